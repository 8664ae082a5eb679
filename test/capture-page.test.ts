/**
 * The capture options against real Chromium, the page itself: waits and bestAttempt, page changes
 * (hide, remove, css, click, blocked resources and URLs), and what is sent to the target only.
 */
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { rgbAt } from './helpers/pixels.js';

import { fixtures, svc, seen, get, setUpFeatureSuite } from './helpers/feature-suite.js';

setUpFeatureSuite();

describe('waiting', () => {
  it('waitForSelector waits for the element', async () => {
    const res = await get({ url: `${fixtures.origin}/late`, waitForSelector: '#late', width: 50, height: 50 });
    expect(await rgbAt(res.body, 25, 25)).toEqual([0, 255, 0]);
  });

  it('a wait that times out is 504, or a capture with X-Best-Attempt under bestAttempt', async () => {
    const strict = await request(svc.app.server)
      .get('/')
      .query({ url: `${fixtures.origin}/late`, waitForSelector: '#never', timeout: 2000 });
    expect(strict.status).toBe(504);
    expect(strict.body.phase).toBe('prepare');
    const lenient = await get({
      url: `${fixtures.origin}/late`,
      waitForSelector: '#never',
      timeout: 4000,
      bestAttempt: true,
      width: 50,
      height: 50,
    });
    expect(lenient.status).toBe(200);
    expect(lenient.headers['x-best-attempt']).toBe('timed out: waitForSelector');
    const nav = await get({ url: `${fixtures.origin}/never`, timeout: 3000, bestAttempt: true, width: 50, height: 50 });
    expect(nav.status).toBe(200);
    expect(nav.headers['x-best-attempt']).toBe('timed out: waitUntil');
  });
});

describe('changing the page', () => {
  it('hide, remove, css and click apply before the capture', async () => {
    const res = await get({
      url: `${fixtures.origin}/changes`,
      hide: '#a',
      remove: ['#b'],
      css: '#btn{outline:none}',
      click: '#btn',
      width: 100,
      height: 300,
    });
    expect(res.status).toBe(200);
    expect(await rgbAt(res.body, 50, 50), 'hidden #a shows the body').toEqual([0, 255, 0]);
    expect(await rgbAt(res.body, 50, 150), 'removed #b, clicked button gone').toEqual([0, 255, 0]);
  });

  it('css is injected', async () => {
    const res = await get({
      url: `${fixtures.origin}/changes`,
      css: 'html,body{background:#00f!important} div,button{display:none}',
      width: 50,
      height: 50,
    });
    expect(await rgbAt(res.body, 25, 25)).toEqual([0, 0, 255]);
  });

  it('click on nothing is 404; a broken selector is 400', async () => {
    const missing = await request(svc.app.server)
      .get('/')
      .query({ url: `${fixtures.origin}/changes`, click: '#none' });
    expect(missing.status).toBe(404);
    expect(missing.body.field).toBe('click');
    const broken = await request(svc.app.server)
      .get('/')
      .query({ url: `${fixtures.origin}/changes`, hide: 'div[' });
    expect(broken.status).toBe(400);
    expect(broken.body.field).toBe('hide');
  });

  it('click on an element with nothing to click (hidden, invisible, or in <head>) is 422, not a 500', async () => {
    for (const [click, css] of [
      ['head', ''],
      ['style', ''],
      ['#btn', '#btn{display:none}'],
      ['#btn', '#btn{visibility:hidden}'],
    ]) {
      const query = { url: `${fixtures.origin}/changes`, click, ...(css ? { css } : {}) };
      const res = await request(svc.app.server).get('/').query(query);
      expect(res.status, `${click} ${css}`).toBe(422);
      expect(res.body, click).toMatchObject({ error: 'not_clickable', field: 'click' });
    }
  });

  it('blockResources and blockUrls keep requests from leaving', async () => {
    seen.img = [];
    await get({ url: `${fixtures.origin}/images`, blockResources: 'image', width: 50, height: 50 });
    expect(seen.img).toHaveLength(0);
    await get({ url: `${fixtures.origin}/images`, blockUrls: '*/img/a.png', width: 50, height: 50 });
    expect(seen.img).toHaveLength(1);
  });
});

describe('sent to the target only', () => {
  it('headers, cookies and user agent reach the target; headers and cookies never a third party', async () => {
    seen['third-party'] = [];
    const res = await get({
      url: `${fixtures.origin}/headers`,
      headers: JSON.stringify({ 'X-Api-Key': 'k-123' }),
      cookies: JSON.stringify([{ name: 'session', value: 'abc' }]),
      userAgent: 'fc-screenshot-test/1',
      width: 50,
      height: 50,
    });
    expect(res.status).toBe(200);
    const target = seen.target!.at(-1)!;
    expect(target['x-api-key']).toBe('k-123');
    expect(target.cookie).toContain('session=abc');
    expect(target['user-agent']).toBe('fc-screenshot-test/1');
    const third = seen['third-party']!.at(-1)!;
    expect(third['x-api-key']).toBeUndefined();
    expect(third.cookie).toBeUndefined();
  });

  it('basic auth opens a protected page', async () => {
    const denied = await get({ url: `${fixtures.origin}/secret`, width: 50, height: 50 });
    expect(await rgbAt(denied.body, 25, 25)).toEqual([255, 0, 0]);
    const allowed = await get({ url: `${fixtures.origin}/secret`, auth: 'alice:s3cret', width: 50, height: 50 });
    expect(await rgbAt(allowed.body, 25, 25)).toEqual([0, 255, 0]);
  });
});
