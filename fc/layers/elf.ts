/**
 * The GLIBC symbol versions an ELF file needs, read from its version-needs section (SHT_GNU_verneed,
 * `.gnu.version_r`) the way `readelf -V` shows them: section headers → the verneed section → its
 * string table (sh_link) → each Verneed record and its Vernaux entries. ELF64 little-endian only
 * (every file the layers carry is x86-64); anything else reads as needing nothing.
 */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';

const SHT_GNU_VERNEED = 0x6ffffffe;

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, offset);
  if (n !== length) throw new Error(`short read at ${offset}`);
  return buf;
}

/** Every version name (e.g. GLIBC_2.34, GLIBCXX_3.4) the file's verneed entries ask for. */
export function versionNeeds(path: string): string[] {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 64) return [];
    const eh = readAt(fd, 0, 64);
    // \x7fELF, ELFCLASS64, ELFDATA2LSB
    if (eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) return [];
    const shoff = Number(eh.readBigUInt64LE(0x28));
    const shentsize = eh.readUInt16LE(0x3a);
    const shnum = eh.readUInt16LE(0x3c);
    if (!shoff || !shnum || shentsize < 64) return [];
    const sh = readAt(fd, shoff, shentsize * shnum);
    const section = (i: number) => {
      const o = i * shentsize;
      return {
        type: sh.readUInt32LE(o + 4),
        offset: Number(sh.readBigUInt64LE(o + 0x18)),
        size: Number(sh.readBigUInt64LE(o + 0x20)),
        link: sh.readUInt32LE(o + 0x28),
        info: sh.readUInt32LE(o + 0x2c),
      };
    };
    const names: string[] = [];
    for (let i = 0; i < shnum; i++) {
      const s = section(i);
      if (s.type !== SHT_GNU_VERNEED) continue;
      const strtab = section(s.link);
      const strings = readAt(fd, strtab.offset, strtab.size);
      const str = (at: number) => strings.toString('latin1', at, strings.indexOf(0, at));
      const data = readAt(fd, s.offset, s.size);
      // sh_info holds the number of Verneed records; each links to the next by vn_next.
      let vn = 0;
      for (let n = 0; n < s.info; n++) {
        const cnt = data.readUInt16LE(vn + 2);
        let aux = vn + data.readUInt32LE(vn + 8);
        for (let a = 0; a < cnt; a++) {
          names.push(str(data.readUInt32LE(aux + 8))); // vna_name
          const next = data.readUInt32LE(aux + 12); // vna_next
          if (!next) break;
          aux += next;
        }
        const next = data.readUInt32LE(vn + 12); // vn_next
        if (!next) break;
        vn += next;
      }
    }
    return names;
  } finally {
    closeSync(fd);
  }
}
