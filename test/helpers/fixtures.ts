/**
 * A fixture web server on loopback, started by the tests themselves: pages of known colours and
 * sizes, slow and broken pages, and a hit log (for proving the egress guard lets nothing through).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FixtureServer {
  origin: string;
  host: string;
  port: number;
  /** Every path requested, in order. */
  hits: string[];
  /** `127.0.0.1:PORT`, for EGRESS_ALLOW. */
  allowEntry: string;
  route(path: string, handler: http.RequestListener): void;
  close(): Promise<void>;
}

export const colourPage = (css: string, body = '') =>
  `<!doctype html><html><head><style>html,body{margin:0;padding:0;background:${css}}</style></head><body>${body}</body></html>`;

export const tallPage = (heightPx: number, top = '#00ff00', bottom = '#0000ff') =>
  `<!doctype html><html><head><style>html,body{margin:0}div{height:${heightPx / 2}px}</style></head>` +
  `<body><div style="background:${top}"></div><div style="background:${bottom}"></div></body></html>`;

export async function startFixtures(pages: Record<string, string> = {}): Promise<FixtureServer> {
  const routes = new Map<string, http.RequestListener>();
  const hits: string[] = [];
  const html =
    (body: string): http.RequestListener =>
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
    };
  routes.set('/red', html(colourPage('#ff0000')));
  routes.set('/blue', html(colourPage('#0000ff')));
  routes.set('/tall', html(tallPage(3000)));
  routes.set('/never', () => undefined); // never answers
  for (const [path, body] of Object.entries(pages)) routes.set(path, html(body));

  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const path = (req.url ?? '/').split('?')[0]!;
    const handler = routes.get(path);
    if (handler) handler(req, res);
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    hits,
    allowEntry: `127.0.0.1:${port}`,
    route: (path, handler) => routes.set(path, handler),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A server that must never be reached: it counts TCP connections, not just requests. */
export interface InternalServer {
  port: number;
  connections: number;
  close(): Promise<void>;
}

export async function startInternalServer(): Promise<InternalServer> {
  const sockets = new Set<import('node:net').Socket>();
  const state = { port: 0, connections: 0, close: async () => {} };
  const server = http.createServer((_req, res) => res.end('internal secret'));
  server.on('connection', (s) => {
    state.connections += 1;
    sockets.add(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.port = (server.address() as AddressInfo).port;
  state.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return state;
}
