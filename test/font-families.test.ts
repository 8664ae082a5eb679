/**
 * Every family a page may name resolves to a sensible face of the font set: the CSS generic families,
 * the system-font keywords that Tailwind's and Bootstrap's stacks start with (system-ui, -apple-system,
 * Segoe UI, …), the platforms' Latin, Chinese and emoji faces. Asked of the service's own Chromium
 * (located, flagged and given its environment as the service does), through CDP's
 * CSS.getPlatformFontsForNode: the face that actually drew the text, for the layer's font set (as the
 * layer build writes it) and for `npm start`'s local copy of it.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCache, installFontSet } from '../fc/layers/fonts.js';
import { ensureLocalFonts } from '../fc/layers/local-fonts.js';
import { DEFAULT_TARGET, targetFor } from '../fc/layers/targets.js';
import { chromiumEnvironment, chromiumFlags } from '../src/browser/flags.js';
import { launchChromium } from '../src/browser/launch.js';
import { type LocateOptions, locateChromium, unpackEmbedded } from '../src/browser/locate.js';
import { loadConfig } from '../src/config.js';

const SANS = 'Liberation Sans';
const SERIF = 'Liberation Serif';
const MONO = 'Liberation Mono';
const CJK = 'Noto Sans CJK SC';
const EMOJI = 'Noto Color Emoji';

/** CSS font-family value → the face that should draw it. */
const EXPECTED: Array<[string, string]> = [
  ['system-ui', SANS],
  ['sans-serif', SANS],
  ['serif', SERIF],
  ['monospace', MONO],
  ['cursive', SANS],
  ['fantasy', SANS],
  ['emoji', EMOJI],
  ['math', SERIF],
  ['ui-sans-serif', SANS],
  ['ui-serif', SERIF],
  ['ui-monospace', MONO],
  ['ui-rounded', SANS],
  ['-apple-system', SANS],
  ['BlinkMacSystemFont', SANS],
  ['"Segoe UI"', SANS],
  ['Roboto', SANS],
  ['Helvetica', SANS],
  ['"Helvetica Neue"', SANS],
  ['Arial', SANS],
  ['"Noto Sans"', SANS],
  ['"Times New Roman"', SERIF],
  ['Georgia', SERIF],
  ['"Courier New"', MONO],
  ['SFMono-Regular', MONO],
  ['Menlo', MONO],
  ['Consolas', MONO],
  ['"PingFang SC"', CJK],
  ['"Hiragino Sans GB"', CJK],
  ['"Microsoft YaHei"', CJK],
  ['SimSun', CJK],
  ['"Apple Color Emoji"', EMOJI],
  ['"Segoe UI Emoji"', EMOJI],
  // Tailwind's default sans stack, and Bootstrap's
  ['ui-sans-serif, system-ui, sans-serif, "Apple Color Emoji", "Segoe UI Emoji"', SANS],
  ['system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", Arial, sans-serif', SANS],
  ['ui-monospace, SFMono-Regular, Menlo, Monaco, Consolas, monospace', MONO],
];

const sample = (face: string) => (face === EMOJI ? '😀' : face === CJK ? '中文字体' : 'Hamburgefonstiv');

/** The faces Chromium drew each EXPECTED row with, on a Chromium located with these options. */
async function facesDrawn(locate: LocateOptions): Promise<{ source: string; faces: string[][] }> {
  const binary = await locateChromium(locate);
  const profile = mkdtempSync(join(tmpdir(), 'fcshot-fonts-profile-'));
  const launched = await launchChromium({
    executablePath: binary.path,
    args: chromiumFlags('http://127.0.0.1:9'),
    env: chromiumEnvironment(process.env, binary.env),
    userDataDir: profile,
    protocolTimeout: 30_000,
  });
  try {
    const page = await launched.browser.newPage();
    const rows = EXPECTED.map(
      ([family, face], i) => `<p id="r${i}" style='font-family:${family}'>${sample(face)}</p>`,
    ).join('');
    await page.setContent(`<!doctype html><html><body>${rows}</body></html>`);
    const cdp = await page.createCDPSession();
    await cdp.send('DOM.enable');
    await cdp.send('CSS.enable');
    const { root } = await cdp.send('DOM.getDocument');
    const faces: string[][] = [];
    for (let i = 0; i < EXPECTED.length; i++) {
      const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector: `#r${i}` });
      const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId });
      faces.push(fonts.map((f) => f.familyName));
    }
    return { source: binary.source, faces };
  } finally {
    launched.kill();
    rmSync(profile, { recursive: true, force: true });
  }
}

const expectEachResolved = (faces: string[][]) => {
  const got = EXPECTED.map(([family], i) => [family, faces[i]!.join(' + ')]);
  expect(got).toEqual(EXPECTED.map(([family, face]) => [family, face]));
};

let layerRoot: string;

beforeAll(async () => {
  // A layer laid out as FC unpacks it under /opt: the fonts folder as the layer build writes it, the
  // embedded Chromium standing in for the layer's own binary.
  layerRoot = mkdtempSync(join(tmpdir(), 'fcshot-fonts-layer-'));
  const embedded = await unpackEmbedded(loadConfig({}).embeddedChromiumDir);
  symlinkSync(embedded, join(layerRoot, 'chromium'));
  symlinkSync(join(embedded, 'lib'), join(layerRoot, 'lib'));
  mkdirSync(join(layerRoot, 'fonts'));
  await installFontSet(targetFor(DEFAULT_TARGET).suite, defaultCache(), join(layerRoot, 'fonts'));
}, 300_000);

afterAll(() => {
  if (layerRoot) rmSync(layerRoot, { recursive: true, force: true });
});

describe('font families', () => {
  it("the layer's font set: every family drawn with its intended face", async () => {
    const { source, faces } = await facesDrawn({ layerRoot, embeddedChromiumDir: loadConfig({}).embeddedChromiumDir });
    expect(source).toBe('layer');
    expectEachResolved(faces);
  }, 120_000);

  it("npm start's local font set: the same", async () => {
    const config = loadConfig({});
    await ensureLocalFonts(config.localFontsDir);
    const { source, faces } = await facesDrawn({
      layerRoot: '/nonexistent',
      embeddedChromiumDir: config.embeddedChromiumDir,
      localFontsDir: config.localFontsDir,
    });
    expect(source).toBe('embedded');
    expectEachResolved(faces);
  }, 300_000);
});
