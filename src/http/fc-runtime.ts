/**
 * What is particular to running behind Function Compute, kept out of the shared app:
 *  - `x-fc-*` request headers carry the function role's temporary credentials: they are dropped on
 *    arrival, before any route, log line or page can see them;
 *  - a request that came through FC is framed by `FC Invoke Start/End RequestId: …` lines, as FC's
 *    own runtimes print them;
 *  - the custom runtime's lifecycle hooks, POST /initialize and GET /pre-stop (lifecycle.ts), answered
 *    only to FC's own hook calls, which name the hook in `x-fc-control-path` (FC sets that header on
 *    every request it sends; a caller's request through the trigger carries `/http-invoke`).
 * FC's request id becomes ours in app.ts (`genReqId`), since fastify only takes it at construction.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isLifecycle, registerLifecycleRoutes, type LifecycleOptions } from './lifecycle.js';

export function registerFcRuntime(app: FastifyInstance, lifecycle: LifecycleOptions): void {
  const fromFc = new WeakSet<FastifyRequest>();
  /** FC's `x-fc-control-path`: which call this is (`/initialize`, `/pre-stop`, `/http-invoke`…), read before the drop. */
  const controlPaths = new WeakMap<FastifyRequest, string>();
  /** FC's own call to a hook: framed as that hook (lifecycle.ts), not as an invocation. */
  const hookCall = (request: FastifyRequest) =>
    isLifecycle(request.url) && controlPaths.get(request) === request.url.split('?')[0];
  app.addHook('onRequest', async (request) => {
    const control = request.headers['x-fc-control-path'];
    if (typeof control === 'string') controlPaths.set(request, control);
    if (request.headers['x-fc-request-id']) {
      fromFc.add(request);
      if (!hookCall(request)) process.stdout.write(`FC Invoke Start RequestId: ${request.id}\n`);
    }
    for (const name of Object.keys(request.headers)) {
      if (name.startsWith('x-fc-')) delete request.headers[name];
    }
  });
  app.addHook('onResponse', async (request) => {
    if (fromFc.has(request) && !hookCall(request)) {
      process.stdout.write(`FC Invoke End RequestId: ${request.id}\n`);
    }
  });
  registerLifecycleRoutes(app, lifecycle, {
    fromFc: (request) => fromFc.has(request),
    controlPath: (request) => controlPaths.get(request),
  });
}
