/**
 * Zips written and read in node (yazl, yauzl) the way FC unpacks them: unix modes kept (executables
 * stay executable), symlinks stored as symlinks, directories as entries of their own. Writing is
 * deterministic: entries sorted by path, one fixed timestamp, no extra fields, so an unchanged tree
 * gives a byte-identical zip (with the same Node.js, whose zlib does the deflating).
 */
import {
  chmodSync,
  closeSync,
  createWriteStream,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import yazl from 'yazl';

/** Changes whenever what writeZip makes of the same tree changes, so that zips made before are made again. */
export const ZIP_FORMAT = 'yazl-sorted-dos1980-v1';

/** What a zip holds for one path. */
export interface TreeEntry {
  /** Relative, '/'-separated; a directory's ends in '/'. */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits (07777). */
  mode: number;
  /** A symlink's target. */
  link?: string;
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
/** A DOS timestamp only (no extended-time field): local 1980-01-01, the same bytes in every time zone. */
const FIXED_TIME = new Date(1980, 0, 1, 0, 0, 0);

/** `dir`'s directories, files and symlinks (symlinks not followed), sorted by path. */
export function treeEntries(root: string, under = ''): TreeEntry[] {
  const out: TreeEntry[] = [];
  const visit = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, path));
      const mode = st.mode & 0o7777;
      if (st.isSymbolicLink()) out.push({ path, type: 'symlink', mode, link: readlinkSync(join(root, path)) });
      else if (st.isDirectory()) {
        out.push({ path: `${path}/`, type: 'dir', mode });
        visit(path);
      } else if (st.isFile()) out.push({ path, type: 'file', mode });
      else throw new Error(`${join(root, path)}: not a file, folder or symlink`);
    }
  };
  if (under) {
    const st = lstatSync(join(root, under));
    if (st.isDirectory()) {
      out.push({ path: `${under}/`, type: 'dir', mode: st.mode & 0o7777 });
      visit(under);
    } else out.push({ path: under, type: 'file', mode: st.mode & 0o7777 });
  } else visit('');
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Writes a zip of `root`'s top-level `entries` (default: everything) to `zipFile`. */
export async function writeZip(root: string, zipFile: string, entries?: string[]): Promise<void> {
  const list = entries ? entries.flatMap((e) => treeEntries(root, e)) : treeEntries(root);
  const zip = new yazl.ZipFile();
  const common = { mtime: FIXED_TIME, forceDosTimestamp: true };
  for (const e of list) {
    if (e.type === 'dir') zip.addEmptyDirectory(e.path, { ...common, mode: S_IFDIR | e.mode });
    else if (e.type === 'symlink') {
      zip.addBuffer(Buffer.from(e.link!), e.path, { ...common, mode: S_IFLNK | 0o777, compress: false });
    } else zip.addFile(join(root, e.path), e.path, { ...common, mode: S_IFREG | e.mode });
  }
  zip.end();
  mkdirSync(dirname(zipFile), { recursive: true });
  const tmp = `${zipFile}.part-${process.pid}`;
  await pipeline(zip.outputStream, createWriteStream(tmp));
  renameSync(tmp, zipFile);
}

const openZip = (file: string) =>
  new Promise<yauzl.ZipFile>((ok, fail) =>
    yauzl.open(file, { lazyEntries: true, strictFileNames: true }, (err, z) => (err ? fail(err) : ok(z!))),
  );

const readStream = (zip: yauzl.ZipFile, entry: yauzl.Entry) =>
  new Promise<Readable>((ok, fail) => zip.openReadStream(entry, (err, s) => (err ? fail(err) : ok(s!))));

async function toBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Info-ZIP unzip writes what it inflates in writes of this size (strace). */
const UNZIP_WRITE = 64 * 1024;

/**
 * Writes `data` to `file` in the writes Info-ZIP unzip makes (traced here; that FC unpacks layers with
 * it is our assumption). On this machine's kernel (Linux 6.18, ext4, large folios) how a file was
 * written decides the sizes of the page-cache folios it sits in, and so how much of it a page fault
 * maps into a process, for as long as those pages stay cached: node written in one write had 52 MB of
 * its binary resident in a trivial script, written as unzip writes it 33 MB (the same as unzip's own).
 * A process's PSS counts those pages, so a stand-in /opt unpacked in one write measured the function
 * heavier than unzip would. Kernels without large folios for the file system cache 4 KB pages either way.
 */
export function writeAsUnzip(file: string, data: Buffer): void {
  const fd = openSync(file, 'w');
  try {
    for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, Math.min(UNZIP_WRITE, data.length - at));
  } finally {
    closeSync(fd);
  }
}

/**
 * Unpacks `zipFile` into `dest` as unzip does on FC: modes from the entries' unix attributes,
 * symlinks made as symlinks; existing files are overwritten. An entry that would land outside
 * `dest` or under a symlink is refused.
 */
export async function extractZip(zipFile: string, dest: string): Promise<void> {
  const root = resolve(dest);
  mkdirSync(root, { recursive: true });
  const zip = await openZip(zipFile);
  const links = new Set<string>();
  const dirModes: Array<[string, number]> = [];
  try {
    for (;;) {
      const entry = await new Promise<yauzl.Entry | undefined>((ok, fail) => {
        zip.once('entry', ok);
        zip.once('end', () => ok(undefined));
        zip.once('error', fail);
        zip.readEntry();
      });
      zip.removeAllListeners('entry').removeAllListeners('end').removeAllListeners('error');
      if (!entry) break;
      const name = entry.fileName;
      const target = resolve(root, name);
      if (target !== root && !target.startsWith(root + sep)) throw new Error(`${zipFile}: ${name} leaves the folder`);
      const parts = name.replace(/\/$/, '').split('/');
      for (let i = 1; i < parts.length; i++) {
        if (links.has(parts.slice(0, i).join('/'))) throw new Error(`${zipFile}: ${name} lies under a symlink`);
      }
      const attr = entry.externalFileAttributes >>> 16;
      const type = attr & 0o170000;
      const mode = attr & 0o7777;
      if (name.endsWith('/') || type === S_IFDIR) {
        mkdirSync(target, { recursive: true });
        dirModes.push([target, mode || 0o755]);
        continue;
      }
      mkdirSync(dirname(target), { recursive: true });
      const data = await toBuffer(await readStream(zip, entry));
      // Never write through what is there: a file or symlink in the way is replaced, as unzip -o does.
      if (lstatSync(target, { throwIfNoEntry: false })?.isDirectory() === false) rmSync(target);
      if (type === S_IFLNK) {
        symlinkSync(data.toString(), target);
        links.add(name);
      } else {
        writeAsUnzip(target, data);
        chmodSync(target, mode || 0o644);
      }
    }
  } finally {
    zip.close();
  }
  // Folder modes last, so a read-only folder does not stop its own entries from being written.
  for (const [dir, mode] of dirModes.reverse()) chmodSync(dir, mode);
}
