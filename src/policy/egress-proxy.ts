/**
 * An in-process forward proxy that all of Chromium's traffic goes through (documents, sub-resources,
 * redirects, fetch, WebSockets, workers…). It resolves each destination itself, applies the egress
 * rule, and connects to the address it checked. Chromium is started with this proxy for every scheme
 * and with loopback not bypassed, so there is no path around it.
 *
 * A refused destination answers 403 with an `x-egress-blocked` header (plain HTTP) or fails the
 * CONNECT tunnel (HTTPS, WebSocket); the capture notices either and counts it. The header's value
 * starts with a secret made at start-up, and the same headers are removed from what targets send, so
 * a target cannot forge the guard's verdict (proxyVerdict reads it).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { checkDestination, type EgressPolicy } from './destination.js';

export const BLOCKED_HEADER = 'x-egress-blocked';
/** Set on the proxy's own answer when the destination could not be reached (DNS, refused…). */
export const UNREACHABLE_HEADER = 'x-egress-unreachable';
/** Known to this process only: a verdict header without it was not written by the proxy. */
const VERDICT_SECRET = randomBytes(16).toString('hex');
const verdict = (reason: string) => `${VERDICT_SECRET} ${reason}`;

/** The proxy's own verdict on a response, read from its headers; a target's look-alike is ignored. */
export function proxyVerdict(headers: Record<string, string>): { blocked?: string; unreachable?: string } {
  const ours = (value: string | undefined) =>
    value?.startsWith(`${VERDICT_SECRET} `) ? value.slice(VERDICT_SECRET.length + 1) : undefined;
  return { blocked: ours(headers[BLOCKED_HEADER]), unreachable: ours(headers[UNREACHABLE_HEADER]) };
}

export interface EgressProxy {
  /** `http://127.0.0.1:PORT`, for Chromium's --proxy-server. */
  url: string;
  /** A way in of its own (for one browser context), into the same proxy. */
  entrance(): Promise<ProxyEntrance>;
  close(): Promise<void>;
}

/**
 * A port of its own into the proxy, for one browser context: the proxy then knows which connections
 * are that context's, and can cut them all at once (a warm tab's scrub: nothing the last page sent
 * comes back, not even a keepalive request's answer, and no connection carries over to the next).
 */
export interface ProxyEntrance {
  /** `http://127.0.0.1:PORT`, for the context's proxy server. */
  url: string;
  /** Closes every connection through this entrance and refuses new ones, until `reopen`. */
  cut(): void;
  reopen(): void;
  close(): Promise<void>;
}

type Log = { warn(obj: object, msg: string): void };

/** An upstream connection with nothing sent either way for this long is closed. */
const UPSTREAM_IDLE_MS = 30_000;

const HOP_BY_HOP = ['proxy-connection', 'proxy-authorization', 'connection', 'keep-alive'];

function splitHostPort(target: string, defaultPort: number): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(target);
  if (!m?.[1]) return undefined;
  const port = m[2] ? Number(m[2]) : defaultPort;
  return port > 0 && port < 65536 ? { host: m[1], port } : undefined;
}

export async function startEgressProxy(policy: EgressPolicy, log?: Log): Promise<EgressProxy> {
  // Kept-alive upstream sockets, pooled per checked address: a page's dozen images from one host
  // reuse a connection instead of opening one each. No cap per address: a cap is shared by every
  // capture, so one page holding it would stall the others' requests to the same address (a CDN).
  // Each capture is bounded by Chromium instead (at most 32 connections to a proxy per context).
  const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, timeout: UPSTREAM_IDLE_MS });
  const sockets = new Set<Duplex>();
  const track = (s: Duplex) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const refuse = (host: string, port: number, reason: string) => {
    log?.warn({ host, port, reason }, 'egress blocked');
  };

  const server = http.createServer(async (req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    const port = target.port ? Number(target.port) : 80;
    if (target.protocol !== 'http:') {
      refuse(target.hostname, port, 'scheme');
      res.writeHead(403, { [BLOCKED_HEADER]: verdict('scheme') }).end();
      return;
    }
    const checked = await checkDestination(target.hostname, port, policy);
    if (!checked.allowed) {
      if (checked.status === 403) refuse(target.hostname, port, checked.reason);
      const header = checked.status === 403 ? BLOCKED_HEADER : UNREACHABLE_HEADER;
      res
        .writeHead(checked.status, { [header]: verdict(checked.reason), 'content-type': 'text/plain' })
        .end(checked.reason);
      return;
    }
    const headers = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    const upstream = http.request(
      {
        host: checked.addresses[0],
        port,
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers,
        setHost: false,
        agent,
      },
      (up) => {
        delete up.headers[BLOCKED_HEADER];
        delete up.headers[UNREACHABLE_HEADER];
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!res.headersSent) res.writeHead(502, { [UNREACHABLE_HEADER]: verdict(err.code ?? 'connect failed') }).end();
      else res.destroy();
    });
    // Chromium hung up (the page stopped loading it, or its context closed): the upstream request
    // ends with it, never left streaming into a socket nobody reads.
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.setTimeout(UPSTREAM_IDLE_MS, () => upstream.destroy());
    req.pipe(upstream);
  });

  server.on('connect', async (req: http.IncomingMessage, client: Duplex, head: Buffer) => {
    track(client);
    client.on('error', () => client.destroy());
    const dest = splitHostPort(req.url ?? '', 443);
    if (!dest) {
      client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const checked = await checkDestination(dest.host, dest.port, policy);
    if (!checked.allowed) {
      if (checked.status === 403) refuse(dest.host, dest.port, checked.reason);
      const status = checked.status === 403 ? '403 Forbidden' : '502 Bad Gateway';
      client.end(`HTTP/1.1 ${status}\r\n${BLOCKED_HEADER}: ${verdict(checked.reason)}\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const upstream = net.connect({ host: checked.addresses[0], port: dest.port });
    track(upstream);
    upstream.setTimeout(UPSTREAM_IDLE_MS, () => upstream.destroy());
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => {
      if (!connected && client.writable) {
        client.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n');
      } else client.destroy();
    });
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });

  const entrances = new Set<net.Server>();
  const entrance = async (): Promise<ProxyEntrance> => {
    const clients = new Set<net.Socket>();
    let cut = false;
    // Connections are handed to the one proxy server: the same rule, the same pool upstream.
    const door = net.createServer((socket) => {
      if (cut) return void socket.destroy();
      clients.add(socket);
      socket.once('close', () => clients.delete(socket));
      server.emit('connection', socket);
    });
    door.on('error', () => undefined);
    await new Promise<void>((resolve) => door.listen(0, '127.0.0.1', resolve));
    entrances.add(door);
    return {
      url: `http://127.0.0.1:${(door.address() as net.AddressInfo).port}`,
      cut() {
        cut = true;
        for (const socket of clients) socket.destroy();
      },
      reopen() {
        cut = false;
      },
      close: () =>
        new Promise<void>((resolve) => {
          entrances.delete(door);
          for (const socket of clients) socket.destroy();
          door.close(() => resolve());
        }),
    };
  };

  // A plain-HTTP upgrade (ws:// not tunnelled) is never forwarded: fail closed.
  server.on('upgrade', (_req, socket: Duplex) => socket.destroy());
  server.on('connection', (s) => track(s));
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    entrance,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        for (const s of sockets) s.destroy();
        for (const door of entrances) door.close();
        entrances.clear();
        server.close(() => resolve());
      }),
  };
}
