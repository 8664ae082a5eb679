/**
 * hideCookieBanners on the corpus's consent-banner page: a banner built to OneTrust's markup, which
 * DuckDuckGo's autoconsent (the package's own rule for that consent manager) recognises and answers
 * with "Reject All". The banner's pixels must be gone and the page behind it visible.
 */
import { describe, expect, it } from 'vitest';
import { near, pixels } from './corpus/pixels.js';
import { useCorpusRun } from './corpus/setup.js';

const run = useCorpusRun();

describe('hideCookieBanners', () => {
  it('is off by default: the banner and its dimming filter are captured as the visitor sees them', async () => {
    const res = await run.get({ url: `${run.corpus.https}/cookie-onetrust` });
    expect(res.status).toBe(200);
    const p = await pixels(res.body);
    // #1e88e5 under rgba(0,0,0,.5) → #0f4473
    expect(p.share({ x: 600, y: 200, width: 600, height: 300 }, '#0f4473', 3)).toBeGreaterThan(0.99);
    expect(p.share({ x: 0, y: 600, width: 1280, height: 200 }, '#ffffff', 2)).toBeGreaterThan(0.8); // the banner
  });

  it('opts out through the consent manager: banner gone, the page behind visible, "Reject All" chosen', async () => {
    const before = run.corpus.hits.length;
    const res = await run.get({ url: `${run.corpus.https}/cookie-onetrust`, hideCookieBanners: true });
    expect(res.status).toBe(200);
    const p = await pixels(res.body);
    expect(p.share({ x: 600, y: 200, width: 600, height: 300 }, '#1e88e5', 2)).toBe(1);
    expect(p.share({ x: 0, y: 600, width: 1280, height: 200 }, '#1e88e5', 2)).toBe(1);
    const white = (c: [number, number, number]) => near(c, '#ffffff', 2);
    expect(p.count({ x: 40, y: 60, width: 400, height: 120 }, white)).toBeGreaterThan(500); // the headline, not dimmed
    // The page's own consent logic ran, as for a person's click, once, with the optional groups refused.
    const receipts = run.corpus.hits.slice(before).filter((h) => h.path === '/consent-receipt');
    expect(receipts.map((h) => decodeURIComponent(h.search))).toEqual(['?groups=C0001:1,C0002:0,C0004:0']);
  });

  it('leaves a page without a consent manager as it is', async () => {
    const plain = await run.get({ url: `${run.corpus.https}/react-antd` });
    const handled = await run.get({ url: `${run.corpus.https}/react-antd`, hideCookieBanners: true });
    expect(handled.status).toBe(200);
    const [a, b] = [await pixels(plain.body), await pixels(handled.body)];
    const box = { x: 0, y: 0, width: 1280, height: 800 };
    expect(a.count(box, (c) => near(c, '#1677ff', 2))).toBeGreaterThan(2000);
    expect(b.count(box, (c) => near(c, '#1677ff', 2))).toBe(a.count(box, (c) => near(c, '#1677ff', 2)));
  });

  it('takes a boolean, and says which field is wrong', async () => {
    const res = await run.get({ url: `${run.corpus.https}/cookie-onetrust`, hideCookieBanners: 'sometimes' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString())).toMatchObject({ error: 'invalid_option', field: 'hideCookieBanners' });
  });
});
