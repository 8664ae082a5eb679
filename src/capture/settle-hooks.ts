/**
 * What the settle step needs to know about a page's own activity, installed before the page's scripts
 * (Page.addScriptToEvaluateOnNewDocument, by emulate.ts when `settle` is on) and read by settle.ts:
 *   - requestAnimationFrame calls (a page animating frame by frame), the original kept for the settle
 *     step's own frames;
 *   - fetch and XMLHttpRequest calls in flight, and when the last one ended;
 *   - scripts, stylesheets and images that finished (their `load`/`error`), and when;
 *   - after `load`, when the DOM last changed (a MutationObserver started at `load`, so parsing costs
 *     nothing);
 *   - short timeouts (at most SHORT_TIMER_MS) set after `load` and still to fire, and when the last is
 *     due: a page that waits a moment after load before it fetches its data or adds its images shows
 *     nothing pending until then. (Timers set before `load` are the page's own rhythm, such as a
 *     carousel's autoplay: waiting for them would only catch it moving.)
 * Times are performance.now() values.
 */
export const PAGE_HOOK = 'fcshot.activity';

/** Timeouts up to this long are waited for by the settle step (longer ones are a page's own schedule). */
export const SHORT_TIMER_MS = 1000;

export const PAGE_HOOKS = `(() => {
  const original = window.requestAnimationFrame;
  if (!original || window[Symbol.for('${PAGE_HOOK}')]) return;
  const state = { frames: 0, frameAt: -Infinity, inFlight: 0, netAt: -Infinity, mutatedAt: -Infinity, loaded: new WeakSet() };
  const ended = () => { state.inFlight -= 1; state.netAt = performance.now(); };
  Object.defineProperty(window, Symbol.for('${PAGE_HOOK}'), {
    value: {
      frame: (cb) => original.call(window, cb),
      frames: () => state.frames,
      frameAt: () => state.frameAt,
      inFlight: () => state.inFlight,
      netAt: () => state.netAt,
      mutatedAt: () => state.mutatedAt,
      loaded: (el) => state.loaded.has(el),
      timersDue: () => Math.max(-Infinity, ...timers.values()),
    },
  });
  const timers = new Map();
  const setTimer = window.setTimeout;
  const clearTimer = window.clearTimeout;
  window.setTimeout = function setTimeout(callback, ms, ...rest) {
    if (typeof callback !== 'function') return setTimer.call(window, callback, ms, ...rest);
    const delay = Number(ms) || 0;
    const id = setTimer.call(window, function (...args) {
      timers.delete(id);
      return callback.apply(this, args);
    }, ms, ...rest);
    if (state.afterLoad && delay <= ${SHORT_TIMER_MS}) timers.set(id, performance.now() + delay);
    return id;
  };
  window.clearTimeout = function clearTimeout(id) {
    timers.delete(id);
    return clearTimer.call(window, id);
  };
  window.requestAnimationFrame = function requestAnimationFrame(cb) {
    state.frames += 1;
    state.frameAt = performance.now();
    return original.call(window, cb);
  };
  const fetch = window.fetch;
  if (fetch) {
    window.fetch = function (...args) {
      state.inFlight += 1;
      const answer = fetch.apply(this, args);
      answer.then(ended, ended);
      return answer;
    };
  }
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) {
    state.inFlight += 1;
    this.addEventListener('loadend', ended, { once: true });
    try {
      return send.apply(this, args);
    } catch (err) {
      ended();
      throw err;
    }
  };
  const done = (e) => {
    const el = e.target;
    if (el && el.nodeType === 1) {
      state.loaded.add(el);
      state.netAt = performance.now();
    }
  };
  // On the document: an element's load event never reaches the window.
  document.addEventListener('load', done, true);
  document.addEventListener('error', done, true);
  addEventListener('load', () => {
    state.afterLoad = true;
    new MutationObserver(() => { state.mutatedAt = performance.now(); })
      .observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  }, { once: true });
})();`;
