/**
 * The playground's script, served as /playground.js (plain JavaScript: no build step, no CDN). It
 * builds the form from the POST body schema in /openapi.json, keeps the request as code in step with
 * it, sends the capture, and shows the response. Every text from the page, the schema or the server
 * goes into the DOM as textContent, never as HTML.
 *
 * Kept as a string so the one-file bundle deployed to FC carries it; no backticks or dollar-brace
 * inside, so String.raw keeps it byte for byte.
 */
export const PLAYGROUND_SCRIPT = String.raw`
const config = JSON.parse(document.getElementById('playground-config').textContent);
const $ = (id) => document.getElementById(id);
const fields = new Map(); // option name -> { kind, schema, wrap, read }
let getParams = {}; // which options a GET query carries as JSON text
let inflight;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === false) continue;
    if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  node.append(...children.filter((c) => c !== undefined));
  return node;
}

const enumOf = (s) => (s && s.anyOf && s.anyOf.every((b) => 'const' in b) ? s.anyOf.map((b) => b.const) : undefined);

function kindOf(name, s) {
  if (name === 'token') return 'secret';
  if (enumOf(s)) return 'enum';
  if (s.type === 'boolean') return 'boolean';
  if (s.type === 'integer' || s.type === 'number') return 'number';
  if (s.type === 'array' && enumOf(s.items)) return 'set';
  if (s.type === 'array' && s.items && s.items.type === 'string') return 'lines';
  if (s.type === 'object' || s.type === 'array') return 'json';
  if (s.type === 'string' && (s.maxLength || 0) > 4096) return 'long';
  return 'text';
}

function metaOf(kind, s) {
  const parts = [];
  if (s.default !== undefined) parts.push('default ' + JSON.stringify(s.default));
  if (s.minimum !== undefined && s.maximum !== undefined) parts.push(s.minimum + '–' + s.maximum);
  else if (s.minimum !== undefined) parts.push('≥ ' + s.minimum);
  else if (s.maximum !== undefined) parts.push('≤ ' + s.maximum);
  if (kind === 'lines') parts.push('one per line');
  if (kind === 'json') parts.push('JSON');
  if (s.maxItems !== undefined && kind !== 'set') parts.push('at most ' + s.maxItems);
  return parts.join(' · ');
}

class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

/** One option's input, and how to read it: undefined when empty or at its default. */
function makeField(name, s) {
  const kind = kindOf(name, s);
  const id = 'opt-' + name;
  const head = el('label', { class: 'head', for: id }, el('span', { class: 'name', text: name }));
  const meta = metaOf(kind, s);
  if (meta) head.append(el('span', { class: 'meta', text: meta }));
  const wrap = el('div', { class: 'field', 'data-option': name, 'data-kind': kind });
  let control;
  let read;
  const dflt = s.default;
  if (kind === 'boolean') {
    control = el('input', { type: 'checkbox', id, name, checked: dflt === true });
    wrap.append(el('label', { class: 'check' }, control, el('span', { class: 'name', text: name })));
    if (meta) wrap.append(el('span', { class: 'meta', text: meta }));
    read = () => (control.checked === (dflt === true) ? undefined : control.checked);
  } else if (kind === 'enum') {
    const values = enumOf(s);
    control = el('select', { id, name });
    if (dflt === undefined) control.append(el('option', { value: '', text: '(default)' }));
    for (const v of values) control.append(el('option', { value: v, text: v, selected: v === dflt }));
    wrap.append(head, control);
    read = () => (control.value === '' || control.value === dflt ? undefined : control.value);
  } else if (kind === 'set') {
    control = el('div', { class: 'set', id, role: 'group' });
    for (const v of enumOf(s.items)) {
      control.append(el('label', {}, el('input', { type: 'checkbox', name, value: v }), document.createTextNode(v)));
    }
    wrap.append(head, control);
    read = () => {
      const on = [...control.querySelectorAll('input:checked')].map((c) => c.value);
      return on.length ? on : undefined;
    };
  } else if (kind === 'number') {
    const step = s.type === 'integer' ? 1 : 'any';
    control = el('input', { type: 'number', id, name, min: s.minimum, max: s.maximum, step, placeholder: dflt });
    wrap.append(head, control);
    read = () => {
      if (control.value.trim() === '') {
        if (control.validity.badInput) throw new FieldError(name, name + ' must be a number');
        return undefined;
      }
      const n = Number(control.value);
      return n === dflt ? undefined : n;
    };
  } else if (kind === 'lines' || kind === 'json' || kind === 'long') {
    const placeholder = kind === 'json' ? (s.type === 'object' ? '{"name": "value"}' : '[{"name": "…", "value": "…"}]') : '';
    control = el('textarea', { id, name, rows: kind === 'long' ? 4 : 2, placeholder, spellcheck: 'false' });
    wrap.append(head, control);
    read = () => {
      const text = control.value.trim();
      if (text === '') return undefined;
      if (kind === 'lines') return text.split('\n').map((l) => l.trim()).filter(Boolean);
      if (kind === 'long') return control.value;
      try {
        return JSON.parse(text);
      } catch (e) {
        throw new FieldError(name, name + ' is not valid JSON: ' + e.message);
      }
    };
  } else {
    const type = kind === 'secret' ? 'password' : 'text';
    const placeholder = name === 'url' ? 'https://example.com' : '';
    control = el('input', { type, id, name, placeholder, spellcheck: 'false', autocomplete: 'off' });
    wrap.append(head, control);
    read = () => (control.value.trim() === '' ? undefined : control.value.trim());
  }
  if (s.description) wrap.append(el('p', { class: 'help', text: s.description }));
  fields.set(name, { kind, schema: s, wrap, control, read });
  return wrap;
}

function buildForm(schema) {
  const byGroup = new Map(config.groups.map((g) => [g.id, []]));
  const fallback = config.groups[config.groups.length - 1].id;
  for (const [name, s] of Object.entries(schema.properties)) {
    const group = config.groups.find((g) => g.options.includes(name));
    byGroup.get(group ? group.id : fallback).push(makeField(name, s));
  }
  const root = $('fields');
  root.textContent = '';
  for (const g of config.groups) {
    const items = byGroup.get(g.id);
    if (!items.length) continue;
    const summary = el('summary', {}, document.createTextNode(g.title + ' '));
    summary.append(el('span', { class: 'count', text: '(' + items.length + ')' }));
    root.append(el('details', { open: g.open || g.id === 'access' && config.access.token, 'data-group': g.id }, summary, ...items));
  }
}

function showAccess() {
  const box = $('access');
  const { token, signedUrls } = config.access;
  if (!token && !signedUrls) return;
  box.hidden = false;
  if (token) {
    box.append(el('p', { text: 'This service needs a token: fill in "token" under Access. It is sent as ' +
      'Authorization: Bearer, never in the page URL; the code below says $TOKEN instead.' }));
  }
  if (signedUrls) {
    box.append(el('p', { text: 'Signed URLs (no token in the URL): copy the GET URL below and run ' +
      "SIGNING_SECRET=… npm run sign-url -- 'URL' [ttlSeconds]. To try one here, copy its expires and " +
      'signature into the Access fields: the capture is then sent as that GET.' }));
  }
}

/** The request the form describes: options in a POST body, or a signed GET query. */
function currentRequest() {
  const options = {};
  let token;
  for (const [name, f] of fields) {
    const value = f.read();
    if (value === undefined) continue;
    if (name === 'token') token = value;
    else options[name] = value;
  }
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(options)) {
    if (getParams[name] === 'json') query.append(name, JSON.stringify(value));
    else if (Array.isArray(value)) for (const v of value) query.append(name, String(v));
    else query.append(name, String(value));
  }
  const qs = query.toString();
  const getUrl = location.origin + '/' + (qs ? '?' + qs : '');
  const method = options.signature !== undefined ? 'GET' : 'POST';
  return { options, token, method, getUrl, endpoint: location.origin + '/' };
}

const shell = (s) => "'" + s.replace(/'/g, "'\\''") + "'";

function snippets(req) {
  const ext = req.options.format || 'png';
  const auth = req.token !== undefined || config.access.token;
  const json = JSON.stringify(req.options);
  // -f: an error answer fails the command instead of being saved as the image
  const curl = ['curl -fsS -o shot.' + ext];
  if (auth) curl.push('-H "Authorization: Bearer $TOKEN"');
  if (req.method === 'POST') curl.push("-H 'Content-Type: application/json'", '--data-raw ' + shell(json), shell(req.endpoint));
  else curl.push(shell(req.getUrl));
  const headers = [];
  if (req.method === 'POST') headers.push("'Content-Type': 'application/json'");
  if (auth) headers.push("Authorization: 'Bearer ' + TOKEN");
  const fetchLines = [
    'const res = await fetch(' + JSON.stringify(req.method === 'POST' ? req.endpoint : req.getUrl) + ', {',
    "  method: '" + req.method + "',",
  ];
  if (headers.length) fetchLines.push('  headers: { ' + headers.join(', ') + ' },');
  if (req.method === 'POST') fetchLines.push('  body: JSON.stringify(' + JSON.stringify(req.options, null, 2).replace(/\n/g, '\n  ') + '),');
  fetchLines.push('});', 'if (!res.ok) throw new Error(JSON.stringify(await res.json()));', 'const image = await res.blob();');
  let urlNote = 'The same capture as a GET: an <img src> or a link.';
  if (req.options.html !== undefined) urlNote = 'html does not fit a URL: send it with POST.';
  else if (config.access.signedUrls) urlNote = "Sign it to share it without the token: SIGNING_SECRET=… npm run sign-url -- 'URL'";
  else if (config.access.token) urlNote = 'The same capture as a GET; it still needs Authorization: Bearer $TOKEN.';
  return [
    { id: 'curl', title: 'curl', text: curl.join(' ') },
    { id: 'fetch', title: 'fetch', text: fetchLines.join('\n') },
    { id: 'json', title: 'POST JSON', text: JSON.stringify(req.options, null, 2) },
    { id: 'url', title: 'GET URL', text: req.getUrl, note: urlNote },
  ];
}

function buildCodePane() {
  const tabs = document.querySelector('#code .tabs');
  const panes = document.querySelector('#code .snippets');
  for (const [i, s] of snippets(currentRequest()).entries()) {
    const pre = el('pre', { id: 'code-' + s.id });
    const copy = el('button', { type: 'button', class: 'small', 'data-copy': s.id, text: 'Copy' });
    copy.addEventListener('click', () => copyText(pre.textContent, copy));
    const pane = el('div', { class: 'snippet', id: 'pane-' + s.id, role: 'tabpanel', hidden: i > 0 }, pre, copy);
    pane.append(el('p', { id: 'note-' + s.id }));
    panes.append(pane);
    const tab = el('button', { type: 'button', role: 'tab', 'aria-selected': String(i === 0), text: s.title });
    tab.addEventListener('click', () => {
      for (const b of tabs.children) b.setAttribute('aria-selected', String(b === tab));
      for (const p of panes.children) p.hidden = p !== pane;
    });
    tabs.append(tab);
  }
}

function copyText(text, button) {
  const done = () => {
    button.textContent = 'Copied';
    setTimeout(() => (button.textContent = 'Copy'), 1500);
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, () => {});
  else {
    const area = el('textarea', {});
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
    done();
  }
}

function refreshCode() {
  let req;
  try {
    req = currentRequest();
  } catch {
    return; // a half-typed JSON field: keep the last good code
  }
  for (const s of snippets(req)) {
    $('code-' + s.id).textContent = s.text;
    $('note-' + s.id).textContent = s.note || '';
  }
}

function clearProblems() {
  for (const f of fields.values()) {
    f.wrap.classList.remove('invalid');
    const p = f.wrap.querySelector('.problem');
    if (p) p.remove();
  }
}

function markField(name, message) {
  const f = fields.get(name);
  if (!f) return;
  f.wrap.classList.add('invalid');
  f.wrap.append(el('p', { class: 'problem', text: message }));
  const group = f.wrap.closest('details');
  if (group) group.open = true;
  f.wrap.scrollIntoView({ block: 'center' });
  if (f.control.focus) f.control.focus({ preventScroll: true });
}

function parseTiming(header) {
  return (header || '').split(',').map((entry) => {
    const [name, ...params] = entry.trim().split(';');
    const dur = params.map((p) => /^\s*dur=([\d.]+)/.exec(p)).find(Boolean);
    return { name, ms: dur ? Number(dur[1]) : 0 };
  }).filter((p) => p.name);
}

function showTiming(header, totalMs) {
  const phases = parseTiming(header);
  const bar = $('bar');
  const list = $('phases');
  bar.textContent = '';
  list.textContent = '';
  phases.forEach((p, i) => {
    const seg = el('span', { class: 'c' + (i % 8), 'data-phase': p.name, title: p.name + ' ' + p.ms + ' ms' });
    seg.style.flexGrow = String(Math.max(p.ms, 0.001));
    bar.append(seg);
    const item = el('li', { class: 'c' + (i % 8), 'data-phase': p.name });
    item.append(el('span', { text: p.name + ' ' + p.ms.toFixed(1) + ' ms' }));
    list.append(item);
  });
  if (!phases.length) list.append(el('li', { text: 'no Server-Timing header' }));
  list.append(el('li', { class: 'total', 'data-phase': 'total' }, el('span', { text: 'round trip ' + totalMs + ' ms' })));
}

const SHOWN = ['content-type', 'etag', 'x-target-status', 'x-blocked-requests', 'x-truncated', 'x-best-attempt', 'x-cache'];

function showMeta(res, size, totalMs) {
  const meta = $('meta');
  meta.textContent = '';
  const row = (label, value, key, bad) => {
    meta.append(el('dt', { text: label }), el('dd', { text: value, 'data-header': key, class: bad ? 'bad' : undefined }));
  };
  row('Status', res.status + ' ' + res.statusText, 'status', !res.ok);
  row('Size', size === undefined ? '—' : size.toLocaleString('en') + ' bytes', 'size');
  row('Time', totalMs + ' ms', 'time');
  for (const h of SHOWN) {
    const value = res.headers.get(h);
    if (value !== null || h !== 'x-best-attempt') row(h.replace(/(^|-)(\w)/g, (m) => m.toUpperCase()).replace('Etag', 'ETag'), value ?? '—', h);
  }
}

async function capture(event) {
  event.preventDefault();
  clearProblems();
  let req;
  try {
    req = currentRequest();
  } catch (e) {
    if (e instanceof FieldError) {
      markField(e.field, e.message);
      // what the last answer said no longer applies to this request
      $('error').hidden = true;
      $('state').textContent = 'not sent: fix ' + e.field;
    }
    return;
  }
  if (inflight) inflight.abort();
  inflight = new AbortController();
  const headers = {};
  if (req.token !== undefined) headers.authorization = 'Bearer ' + req.token;
  const init = { method: req.method, headers, signal: inflight.signal };
  if (req.method === 'POST') {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(req.options);
  }
  $('go').disabled = true;
  $('state').textContent = 'capturing…';
  const started = performance.now();
  try {
    const res = await fetch(req.method === 'POST' ? req.endpoint : req.getUrl, init);
    const body = await res.blob();
    const total = Math.round(performance.now() - started);
    await show(res, body, total);
    $('state').textContent = res.ok ? 'done in ' + total + ' ms' : 'failed: ' + res.status;
  } catch (e) {
    if (e.name === 'AbortError') return;
    $('state').textContent = 'no answer: ' + e.message;
  } finally {
    $('go').disabled = false;
  }
}

async function show(res, body, total) {
  $('placeholder').hidden = true;
  $('response').hidden = false;
  showMeta(res, body.size, total);
  showTiming(res.headers.get('server-timing'), total);
  const image = $('image');
  const error = $('error');
  for (const old of image.querySelectorAll('img, a')) if (old.href || old.src) URL.revokeObjectURL(old.href || old.src);
  image.textContent = '';
  error.hidden = true;
  if (res.ok) {
    const url = URL.createObjectURL(body);
    if ((res.headers.get('content-type') || '').startsWith('image/')) {
      image.append(el('img', { id: 'shot', alt: 'the capture', src: url }));
    } else {
      image.append(el('a', { id: 'shot', href: url, download: 'shot.pdf', text: 'Download the PDF (' + body.size + ' bytes)' }));
    }
    return;
  }
  const text = await body.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  error.hidden = false;
  error.textContent = parsed ? JSON.stringify(parsed, null, 2) : text;
  if (parsed && parsed.field) markField(parsed.field, parsed.message);
  else if (res.status === 401) markField('token', parsed ? parsed.message : 'unauthorized');
}

async function start() {
  showAccess();
  const doc = await (await fetch('/openapi.json')).json();
  const schema = doc.paths['/'].post.requestBody.content['application/json'].schema;
  for (const p of doc.paths['/'].get.parameters) getParams[p.name] = p.content ? 'json' : 'plain';
  buildForm(schema);
  buildCodePane();
  refreshCode();
  const form = $('form');
  form.addEventListener('input', refreshCode);
  form.addEventListener('change', refreshCode);
  form.addEventListener('submit', capture);
  document.body.dataset.ready = 'true';
}

start().catch((e) => {
  $('fields').textContent = 'Could not load /openapi.json: ' + e.message;
});
`;
