/**
 * The egress proxy all of Chromium's traffic goes through (documents, sub-resources, redirects,
 * fetch, WebSockets, workers…): a SOCKS5 server in this process. Chromium hands it the host name
 * (SOCKS5 resolves on the proxy's side); the proxy resolves it itself, applies the egress rule, and
 * connects to the address it checked. Chromium is started with this proxy for every scheme, loopback
 * not bypassed and no name resolution of its own, so there is no path around it.
 *
 * Past the verdict the proxy only pipes bytes: it never parses a page's HTTP (plain or TLS), which is
 * the cheapest relay there is for node, and no response of a target's can pass for the guard's
 * verdict. A refused destination fails the tunnel; the capture asks the same rule why (WhyBlocked in
 * destination.ts) to tell the caller.
 *
 * Hand-written rather than a package: the part of RFC 1928 needed is CONNECT without authentication
 * (a few dozen lines), the SOCKS server packages on the registry are unmaintained, and the verdict
 * must sit between reading the destination and connecting to the address that was checked.
 */
import net from 'node:net';
import { checkDestination, type EgressPolicy } from './destination.js';

export interface EgressProxy {
  /** `socks5://127.0.0.1:PORT`, for Chromium's --proxy-server. */
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
  /** `socks5://127.0.0.1:PORT`, for the context's proxy server. */
  url: string;
  /** Closes every connection through this entrance and refuses new ones, until `reopen`. */
  cut(): void;
  reopen(): void;
  close(): Promise<void>;
}

type Log = { warn(obj: object, msg: string): void };

/** A tunnel with nothing sent either way for this long is closed. */
const UPSTREAM_IDLE_MS = 30_000;
/** Chromium sends its greeting and request at once; a client slower than this is not Chromium. */
const HANDSHAKE_MS = 10_000;

/** RFC 1928 reply codes used here. */
const REPLY = {
  succeeded: 0x00,
  failure: 0x01,
  notAllowed: 0x02,
  hostUnreachable: 0x04,
  refused: 0x05,
  commandNotSupported: 0x07,
  addressNotSupported: 0x08,
} as const;

class Closed extends Error {}

/** Longest handshake a client may send (greeting, request and a 255-byte name fit well within it). */
const MAX_HANDSHAKE_BYTES = 1024;

/** A client's handshake, read in exact byte counts whatever chunks they arrive in. */
class Handshake {
  private buffered = Buffer.alloc(0);
  private wake?: () => void;
  private over = false;
  private readonly onData = (chunk: Buffer) => {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    if (this.buffered.length > MAX_HANDSHAKE_BYTES) this.socket.destroy();
    this.wake?.();
  };
  private readonly onEnd = () => {
    this.over = true;
    this.wake?.();
  };

  constructor(private readonly socket: net.Socket) {
    socket.on('data', this.onData).on('end', this.onEnd).on('close', this.onEnd);
  }

  /** The next `n` bytes; rejects with Closed if the client hangs up first. */
  async take(n: number): Promise<Buffer> {
    while (this.buffered.length < n) {
      if (this.over) throw new Closed();
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    const bytes = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return bytes;
  }

  /** Stops reading (the socket is paused); what the client sent past the handshake, for the tunnel. */
  done(): Buffer {
    this.socket.off('data', this.onData).off('end', this.onEnd).off('close', this.onEnd);
    this.socket.pause();
    return this.buffered;
  }
}

function reply(socket: net.Socket, code: number): void {
  // Bound address 0.0.0.0:0: Chromium does not use it.
  socket.write(Buffer.from([0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
}

/** The destination a SOCKS5 CONNECT asks for, after the no-authentication greeting; undefined if refused. */
async function readRequest(
  socket: net.Socket,
  { take }: { take: (n: number) => Promise<Buffer> },
): Promise<{ host: string; port: number } | undefined> {
  const [version, methodCount] = await take(2);
  const methods = await take(methodCount || 1);
  if (version !== 0x05 || !methodCount || !methods.includes(0x00)) {
    socket.end(Buffer.from([0x05, 0xff])); // no acceptable method
    return undefined;
  }
  socket.write(Buffer.from([0x05, 0x00]));
  const [, command, , addressType] = await take(4);
  let host: string;
  if (addressType === 0x01) host = [...(await take(4))].join('.');
  else if (addressType === 0x04) host = (await take(16)).toString('hex').replace(/(.{4})(?!$)/g, '$1:');
  else if (addressType === 0x03) host = (await take((await take(1))[0] || 1)).toString('latin1');
  else {
    reply(socket, REPLY.addressNotSupported);
    socket.end();
    return undefined;
  }
  const port = (await take(2)).readUInt16BE(0);
  if (command !== 0x01) {
    reply(socket, REPLY.commandNotSupported);
    socket.end();
    return undefined;
  }
  return { host, port };
}

export async function startEgressProxy(
  policy: EgressPolicy,
  log?: Log,
  { handshakeMs = HANDSHAKE_MS } = {},
): Promise<EgressProxy> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };

  /** One client connection: handshake, verdict, then a byte pipe to the checked address. */
  const serve = async (client: net.Socket) => {
    track(client);
    client.on('error', () => client.destroy());
    // The whole handshake, however slowly its bytes come, within handshakeMs.
    const slow = setTimeout(() => client.destroy(), handshakeMs);
    client.once('close', () => clearTimeout(slow));
    const handshake = new Handshake(client);
    let dest: { host: string; port: number } | undefined;
    try {
      dest = await readRequest(client, { take: (n) => handshake.take(n) });
    } catch {
      client.destroy();
      return;
    }
    const early = handshake.done();
    if (!dest || client.destroyed) return;
    const checked = dest.port > 0 ? await checkDestination(dest.host, dest.port, policy) : undefined;
    if (!checked?.allowed) {
      if (checked?.status === 403)
        log?.warn({ host: dest.host, port: dest.port, reason: checked.reason }, 'egress blocked');
      reply(client, checked?.status === 502 ? REPLY.hostUnreachable : REPLY.notAllowed);
      client.end();
      return;
    }
    if (client.destroyed) return;
    clearTimeout(slow);
    const upstream = net.connect({ host: checked.addresses[0], port: dest.port });
    track(upstream);
    upstream.setNoDelay(true);
    upstream.setTimeout(UPSTREAM_IDLE_MS, () => upstream.destroy());
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      reply(client, REPLY.succeeded);
      if (early.length) upstream.write(early);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected && client.writable) {
        reply(client, err.code === 'ECONNREFUSED' ? REPLY.refused : REPLY.failure);
        client.end();
      } else client.destroy();
    });
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  };

  const listen = async (onSocket: (socket: net.Socket) => void): Promise<net.Server> => {
    const server = net.createServer({ noDelay: true }, onSocket);
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server;
  };
  const urlOf = (server: net.Server) => `socks5://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

  const main = await listen((socket) => void serve(socket).catch(() => socket.destroy()));
  const entrances = new Set<net.Server>();
  const entrance = async (): Promise<ProxyEntrance> => {
    const clients = new Set<net.Socket>();
    let cut = false;
    const door = await listen((socket) => {
      if (cut) return void socket.destroy();
      clients.add(socket);
      socket.once('close', () => clients.delete(socket));
      void serve(socket).catch(() => socket.destroy());
    });
    entrances.add(door);
    return {
      url: urlOf(door),
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

  return {
    url: urlOf(main),
    entrance,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        for (const door of entrances) door.close();
        entrances.clear();
        main.close(() => resolve());
      }),
  };
}
