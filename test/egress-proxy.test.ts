/**
 * The egress proxy on its own, spoken to by a SOCKS client we did not write (the `socks` package)
 * and by random bytes: allowed destinations get a byte pipe, refused ones a failed handshake and no
 * connection, and no input, however broken or slow, crashes it, holds a socket open, or reaches a
 * destination the rule refuses.
 */
import net from 'node:net';
import fc from 'fast-check';
import { SocksClient } from 'socks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEgressProxy, type EgressProxy } from '../src/policy/egress-proxy.js';
import { startInternalServer, type InternalServer } from './helpers/fixtures.js';

let echo: net.Server;
let echoPort = 0;
let echo6: net.Server;
let echo6Port = 0;
let internal: InternalServer;
let proxy: EgressProxy;
let proxyPort = 0;
const HANDSHAKE_MS = 300;

beforeAll(async () => {
  echo = net.createServer((s) => s.on('error', () => undefined).pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as net.AddressInfo).port;
  echo6 = net.createServer((s) => s.on('error', () => undefined).pipe(s));
  await new Promise<void>((r) => echo6.listen(0, '::1', r));
  echo6Port = (echo6.address() as net.AddressInfo).port;
  internal = await startInternalServer();
  const resolve = async (host: string) => {
    if (host === 'echo.test') return ['127.0.0.1'];
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  };
  // Only the echo servers are allowed; the internal server (also loopback) must never be reached.
  const allow = new Set([`127.0.0.1:${echoPort}`, `[::1]:${echo6Port}`]);
  proxy = await startEgressProxy({ allow, resolve }, undefined, {
    handshakeMs: HANDSHAKE_MS,
  });
  proxyPort = Number(new URL(proxy.url).port);
});
afterAll(async () => {
  await proxy.close();
  echo.close();
  echo6.close();
  await internal.close();
});

const through = (host: string, port: number) =>
  SocksClient.createConnection({
    proxy: { host: '127.0.0.1', port: proxyPort, type: 5 },
    command: 'connect',
    destination: { host, port },
    timeout: 5000,
  });

async function roundTrip(socket: net.Socket, text: string): Promise<string> {
  socket.write(text);
  return new Promise((resolve) => socket.once('data', (d) => resolve(d.toString())));
}

describe('a SOCKS5 client', () => {
  it('reaches an allowed destination by IPv4, IPv6 or name, and bytes go both ways', async () => {
    for (const [host, port] of [
      ['127.0.0.1', echoPort],
      ['echo.test', echoPort],
      ['::1', echo6Port],
    ] as const) {
      const { socket } = await through(host, port);
      expect(await roundTrip(socket, `hello ${host}`)).toBe(`hello ${host}`);
      socket.destroy();
    }
  });

  it('is refused a destination the rule refuses, and nothing connects to it', async () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:ffff:7f00:1']) {
      await expect(through(host, internal.port)).rejects.toThrow(/Socks5 proxy rejected connection - NotAllowed/);
    }
    await expect(through('nowhere.test', 80)).rejects.toThrow(/HostUnreachable/);
    expect(internal.connections).toBe(0);
  });

  it('is refused any command but CONNECT (BIND, UDP ASSOCIATE), and authentication it does not offer', async () => {
    const answer = (bytes: number[]) =>
      new Promise<number[]>((resolve) => {
        const got: number[] = [];
        const socket = net.connect(proxyPort, '127.0.0.1', () => socket.write(Uint8Array.from(bytes)));
        socket.on('data', (d) => got.push(...d));
        socket.on('error', () => undefined);
        socket.once('close', () => resolve(got));
      });
    const request = (command: number) => [
      0x05,
      0x01,
      0x00,
      0x05,
      command,
      0x00,
      0x01,
      127,
      0,
      0,
      1,
      echoPort >> 8,
      echoPort & 0xff,
    ];
    expect((await answer(request(0x02))).slice(0, 4)).toEqual([0x05, 0x00, 0x05, 0x07]);
    expect((await answer(request(0x03))).slice(0, 4)).toEqual([0x05, 0x00, 0x05, 0x07]);
    // Username/password only: no acceptable method.
    expect(await answer([0x05, 0x01, 0x02])).toEqual([0x05, 0xff]);
  });
});

/** Sends `bytes`, half-closes or stays silent, and resolves when the proxy has closed the connection. */
function closedAfter(bytes: Uint8Array, end: boolean): Promise<'closed'> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(proxyPort, '127.0.0.1', () => {
      socket.write(bytes);
      if (end) socket.end();
    });
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.once('close', () => resolve('closed'));
    setTimeout(() => reject(new Error('the proxy kept the connection open')), HANDSHAKE_MS + 3000);
  });
}

describe('hostile handshakes', () => {
  const greeting = [0x05, 0x01, 0x00];
  const connectTo = (port: number) => [0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, port >> 8, port & 0xff];
  /** Random bytes, and valid openings cut short or bent at one byte. */
  const hostile = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.tuple(fc.nat(), fc.nat(255), fc.nat()).map(([cut, value, at]) => {
      const bytes = [...greeting, ...connectTo(internal.port)];
      bytes[at % bytes.length] = value;
      return Uint8Array.from(bytes.slice(0, (cut % bytes.length) + 1));
    }),
  );

  it('whatever a client sends, the proxy closes the connection (at once, or when the handshake times out)', async () => {
    await fc.assert(
      fc.asyncProperty(hostile, fc.boolean(), async (bytes, end) => {
        expect(await closedAfter(bytes, end)).toBe('closed');
      }),
      { numRuns: 60 },
    );
    expect(internal.connections).toBe(0);
    // And it still serves.
    const { socket } = await through('127.0.0.1', echoPort);
    expect(await roundTrip(socket, 'still here')).toBe('still here');
    socket.destroy();
  });

  it('a handshake dribbled a byte at a time is cut when its whole time is up, not kept alive by each byte', async () => {
    const bytes = [0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x03, 200, ...Array(200).fill(0x61)];
    const started = Date.now();
    const closedAt = await new Promise<number>((resolve) => {
      const socket = net.connect(proxyPort, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.on('data', () => undefined);
      let i = 0;
      const drip = setInterval(() => {
        if (i < bytes.length && socket.writable) socket.write(Uint8Array.of(bytes[i++]!));
      }, HANDSHAKE_MS / 3);
      socket.once('close', () => {
        clearInterval(drip);
        resolve(Date.now() - started);
      });
    });
    expect(closedAt).toBeLessThan(HANDSHAKE_MS + 1000);
  });
});
