/**
 * GET /openapi.json: the API described from the same schema the server validates with.
 * GET /playground: a small page that builds a request, shows the image and its timing phases.
 */
import type { FastifyInstance } from 'fastify';
import { ERROR_CODES } from '../errors.js';
import { FORMATS, spec } from '../formats.js';
import { JSON_QUERY_FIELDS, OptionsSchema, WAIT_UNTIL } from '../options.js';

const ERROR = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', enum: Object.keys(ERROR_CODES) },
    message: { type: 'string' },
    field: { type: 'string', description: 'the option at fault' },
    reason: { type: 'string' },
    phase: { type: 'string', description: 'for 504: where the deadline ran out' },
  },
};

const JSON_IN_QUERY = new Set<string>(JSON_QUERY_FIELDS);

export function openApiDocument() {
  const schema = JSON.parse(JSON.stringify(OptionsSchema)) as { properties: Record<string, Record<string, unknown>> };
  const parameters = Object.entries(schema.properties)
    .filter(([name]) => name !== 'html')
    .map(([name, prop]) => ({
      name,
      in: 'query',
      required: false,
      description: prop.description,
      ...(JSON_IN_QUERY.has(name)
        ? { content: { 'application/json': { schema: prop } } }
        : { schema: prop, explode: true }),
    }));
  // One response per status, described by the error codes it carries (src/errors.ts).
  const statuses = [...new Set(Object.values(ERROR_CODES).flatMap((e) => e.statuses))].sort();
  const errors = Object.fromEntries(
    statuses.map((status) => {
      const codes = Object.entries(ERROR_CODES).filter(([, e]) => (e.statuses as readonly number[]).includes(status));
      const description = codes.map(([code, e]) => `${code}: ${e.when}`).join('; ');
      return [String(status), { description, content: { 'application/json': { schema: ERROR } } }];
    }),
  );
  const image = {
    description: 'the capture',
    headers: {
      'Server-Timing': { schema: { type: 'string' }, description: 'phases in ms' },
      'X-Request-Id': { schema: { type: 'string' } },
      ETag: { schema: { type: 'string' } },
      'X-Blocked-Requests': { schema: { type: 'integer' }, description: 'requests the egress guard refused' },
      'X-Best-Attempt': {
        schema: { type: 'string' },
        description: 'present when a wait timed out and bestAttempt captured anyway',
      },
      'X-Target-Status': {
        schema: { type: 'integer' },
        description: 'HTTP status of the page captured (after client-side navigation)',
      },
      'X-Truncated': { schema: { type: 'string' }, description: 'present when fullPage was cut at fullPageMaxHeight' },
      'X-Cache': { schema: { type: 'string', enum: ['hit', 'miss', 'off'] }, description: 'the capture cache' },
      'Cache-Control': { schema: { type: 'string' } },
      Vary: { schema: { type: 'string' } },
    },
    content: Object.fromEntries(FORMATS.map((f) => [spec(f).mime, { schema: { type: 'string', format: 'binary' } }])),
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'fc-screenshot',
      version: '1',
      description: 'Screenshots of web pages on Alibaba Cloud Function Compute',
    },
    paths: {
      '/': {
        get: {
          summary: 'Capture a page',
          parameters,
          responses: { '200': image, '304': { description: 'If-None-Match matched the ETag' }, ...errors },
        },
        head: {
          summary: 'The same, headers only',
          parameters,
          responses: { '200': { description: 'headers of the capture' } },
        },
        post: {
          summary: 'Capture a page or raw HTML, options in a JSON body',
          requestBody: { required: true, content: { 'application/json': { schema } } },
          responses: { '200': image, ...errors },
        },
      },
      '/healthz': { get: { summary: 'The process answers', responses: { '200': { description: 'ok' } } } },
      '/readyz': {
        get: {
          summary: 'Chromium answers',
          responses: { '200': { description: 'ready' }, '503': { description: 'starting' } },
        },
      },
    },
  };
}

const PLAYGROUND = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fc-screenshot playground</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;display:grid;grid-template-columns:320px 1fr;min-height:100vh}
form{padding:20px;background:#f4f5f7;display:flex;flex-direction:column;gap:10px}label{display:flex;flex-direction:column;font-size:13px;color:#444}
input,select{font:inherit;padding:4px 6px}button{font:inherit;padding:8px;background:#1a73e8;color:#fff;border:0;border-radius:4px;cursor:pointer}
main{padding:20px}#result img{max-width:100%;border:1px solid #ddd}#timing{font-family:monospace;font-size:13px}#error{color:#b00020;white-space:pre-wrap}
</style></head><body>
<form id="form">
  <h2>Screenshot</h2>
  <label>URL <input name="url" id="url" placeholder="https://www.serverless-devs.com"></label>
  <label>Width <input name="width" type="number" value="1280" min="16" max="3840"></label>
  <label>Height <input name="height" type="number" value="800" min="16" max="4320"></label>
  <label>Format <select name="format">${FORMATS.filter((f) => !spec(f).printed)
    .map((f) => `<option>${f}</option>`)
    .join('')}</select></label>
  <label>Wait until <select name="waitUntil">${WAIT_UNTIL.map((w) => `<option>${w}</option>`).join('')}</select></label>
  <label><span><input type="checkbox" name="fullPage" value="true"> full page</span></label>
  <label><span><input type="checkbox" name="darkMode" value="true"> dark mode</span></label>
  <label>Token (if the service needs one) <input name="token" type="password"></label>
  <button id="go" type="submit">Capture</button>
  <code id="request"></code>
</form>
<main><div id="timing"></div><div id="error"></div><div id="result"></div></main>
<script>
document.getElementById('form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(event.target)) if (v !== '') params.set(k, v);
  const url = '/?' + params;
  document.getElementById('request').textContent = 'GET ' + url;
  document.getElementById('error').textContent = '';
  document.getElementById('timing').textContent = 'capturing…';
  const started = performance.now();
  const res = await fetch(url);
  const total = Math.round(performance.now() - started);
  const phases = (res.headers.get('server-timing') || '').split(', ').filter(Boolean)
    .map((p) => p.replace(';dur=', ' ') + ' ms').join(' · ');
  document.getElementById('timing').textContent = res.status + ' · ' + total + ' ms · ' + phases;
  const result = document.getElementById('result');
  result.textContent = '';
  if (!res.ok) { document.getElementById('error').textContent = JSON.stringify(await res.json(), null, 2); return; }
  const img = document.createElement('img');
  img.id = 'shot';
  img.alt = 'capture';
  img.src = URL.createObjectURL(await res.blob());
  result.append(img);
});
</script></body></html>`;

export function registerDocs(app: FastifyInstance): void {
  const doc = openApiDocument();
  app.get('/openapi.json', async () => doc);
  app.get('/playground', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PLAYGROUND));
}
