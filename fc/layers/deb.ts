/**
 * A .deb unpacked in node, as `dpkg-deb -x` does: the package is an `ar` archive whose data.tar.xz
 * (or .gz) member holds the file tree; it is unpacked with tar-fs keeping modes and symlinks.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-fs';

// xz-decompress (xz-embedded built to WebAssembly) is a CommonJS bundle whose export node's ESM
// loader cannot see by name.
const { XzReadableStream } = createRequire(import.meta.url)('xz-decompress') as typeof import('xz-decompress');

export interface ArMember {
  name: string;
  data: Buffer;
}

/** The members of a System V / GNU `ar` archive (a .deb uses the common format: 60-byte headers). */
export function readAr(buf: Buffer): ArMember[] {
  if (buf.toString('latin1', 0, 8) !== '!<arch>\n') throw new Error('not an ar archive');
  const members: ArMember[] = [];
  let at = 8;
  while (at + 60 <= buf.length) {
    const header = buf.toString('latin1', at, at + 60);
    if (header.slice(58, 60) !== '`\n') throw new Error(`bad ar member header at ${at}`);
    const name = header.slice(0, 16).trim().replace(/\/$/, '');
    const size = Number.parseInt(header.slice(48, 58).trim(), 10);
    const start = at + 60;
    if (!Number.isFinite(size) || start + size > buf.length) throw new Error(`truncated ar member ${name}`);
    members.push({ name, data: buf.subarray(start, start + size) });
    at = start + size + (size % 2); // members are 2-byte aligned
  }
  return members;
}

/** The uncompressed tar stream of a .deb's data member. */
function dataTar(debFile: string): Readable {
  const members = readAr(readFileSync(debFile));
  if (members[0]?.name !== 'debian-binary') throw new Error(`${debFile}: not a Debian package`);
  const data = members.find((m) => m.name.startsWith('data.tar'));
  if (!data) throw new Error(`${debFile}: no data.tar member`);
  const raw = Readable.from([data.data]);
  switch (data.name) {
    case 'data.tar':
      return raw;
    case 'data.tar.gz':
      return raw.pipe(createGunzip());
    case 'data.tar.xz':
      return Readable.fromWeb(new XzReadableStream(new Blob([new Uint8Array(data.data)]).stream()) as never);
    default:
      throw new Error(`${debFile}: ${data.name} is not a compression this builder reads (xz, gz)`);
  }
}

/** Unpacks a .deb's file tree into `dest` with the modes and symlinks it carries. */
export async function unpackDeb(debFile: string, dest: string): Promise<void> {
  mkdirSync(dest, { recursive: true });
  await pipeline(
    dataTar(debFile),
    extract(dest, {
      umask: 0, // the package's modes as they are, like dpkg-deb -x as root
      // Debian packages carry absolute symlinks (to /usr/share/…): they are made as links and never
      // followed while unpacking (tar-fs refuses to write through a symlink either way).
      validateSymlinks: false,
    } as Parameters<typeof extract>[1]),
  );
}
