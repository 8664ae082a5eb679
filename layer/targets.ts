/**
 * The FC runtimes a layer can be built for (shared/fc-facts.md): the glibc each one has, and the
 * Debian release whose packages match it. Debian 10 packages cannot be fetched from here; a target
 * on Debian 10 is built from the oldest release we can reach and then refused by the glibc gate.
 */
export interface Target {
  runtime: string;
  glibc: string;
  /** Debian suite the shared libraries and fonts are taken from. */
  suite: 'bookworm' | 'bullseye';
  custom: boolean;
}

export const TARGETS: Record<string, Target> = {
  'custom.debian12': { runtime: 'custom.debian12', glibc: '2.36', suite: 'bookworm', custom: true },
  'custom.debian11': { runtime: 'custom.debian11', glibc: '2.31', suite: 'bullseye', custom: true },
  'custom.debian10': { runtime: 'custom.debian10', glibc: '2.28', suite: 'bullseye', custom: true },
  nodejs20: { runtime: 'nodejs20', glibc: '2.28', suite: 'bullseye', custom: false },
  nodejs18: { runtime: 'nodejs18', glibc: '2.28', suite: 'bullseye', custom: false },
};

export const DEFAULT_TARGET = 'custom.debian12';

export function targetFor(name: string): Target {
  const target = TARGETS[name];
  if (!target) throw new Error(`unknown target runtime "${name}"; one of: ${Object.keys(TARGETS).join(', ')}`);
  return target;
}

/** Debian packages the Chromium layer takes, and which of their files. */
export const LIB_PACKAGES = ['libnss3', 'libnspr4', 'libexpat1'];
export const FONT_PACKAGES: Array<{ name: string; files: RegExp }> = [
  // Latin, metric-compatible with Arial / Times New Roman / Courier New
  { name: 'fonts-liberation2', files: /Liberation(Sans|Serif|Mono)-[A-Za-z]+\.ttf$/ },
  // Chinese, Japanese, Korean: one collection covers all three
  { name: 'fonts-noto-cjk', files: /NotoSansCJK-(Regular|Bold)\.ttc$/ },
  // Colour emoji
  { name: 'fonts-noto-color-emoji', files: /NotoColorEmoji\.ttf$/ },
];
