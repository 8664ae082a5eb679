/**
 * Unit tests of the option layer: format negotiation and the format table, and resolveOptions
 * (defaults, clamping, refusals), without a browser.
 */
import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { HttpError } from '../src/errors.js';
import { negotiateFormat } from '../src/formats.js';
import { cacheKey } from '../src/http/capture-cache.js';
import { checkNumberSpelling, OptionsSchema, resolveOptions, type ValidatedOptions } from '../src/options.js';

const ctx = { defaultUrl: 'https://default.example', maxTimeoutMs: 30_000 };
/** A request as the validator leaves it: defaults filled in. */
const req = (over: Record<string, unknown> = {}) => Value.Default(OptionsSchema, { ...over }) as ValidatedOptions;
const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof HttpError ? { status: err.statusCode, field: err.body.field } : err;
  }
  return undefined;
};

describe('format negotiation', () => {
  it.each([
    [undefined, 'png'],
    ['*/*', 'png'],
    ['image/*', 'png'],
    ['image/webp,*/*', 'webp'],
    ['image/avif,image/webp,image/png', 'webp'], // a tie goes to the cheaper encoder
    ['image/avif;q=1,image/webp;q=0.5', 'avif'],
    ['image/jpeg;q=0.9, image/png;q=0.8', 'jpeg'],
    ['image/webp;q=0', 'png'],
    ['application/pdf', 'png'], // pdf is asked for by name, never negotiated
    ['IMAGE/WEBP', 'webp'],
  ])('Accept %s → %s', (accept, format) => {
    expect(negotiateFormat(accept)).toBe(format);
  });
});

describe('resolveOptions', () => {
  it('fills the defaults, the default URL and the format from Accept', () => {
    const o = resolveOptions(req(), { ...ctx, accept: 'image/webp' });
    expect(o.target?.href).toBe('https://default.example/');
    expect(o).toMatchObject({ width: 1280, height: 800, scale: 1, format: 'webp', quality: 80 });
    expect(o.timeout).toBe(30_000);
  });

  it('copies every option it does not change (nothing forgotten)', () => {
    const o = resolveOptions(
      req({ url: 'A.Example:8080/x', css: 'x{}', hide: ['.a'], userAgent: 'UA', delay: 5 }),
      ctx,
    );
    expect(o.target?.href).toBe('https://a.example:8080/x'); // parsed once, here
    expect(o).toMatchObject({ css: 'x{}', hide: ['.a'], userAgent: 'UA', delay: 5 });
    expect(resolveOptions(req({ html: '<p>' }), ctx).target).toBeUndefined();
  });

  it('clamps the timeout to the server maximum and parses clip and auth', () => {
    const o = resolveOptions(req({ timeout: 100_000, clip: '1,2,3,4', auth: 'al:ice:pw' }), ctx);
    expect(o.timeout).toBe(30_000);
    expect(o.clip).toEqual({ x: 1, y: 2, width: 3, height: 4 });
    expect(o.auth).toEqual({ username: 'al', password: 'ice:pw' });
  });

  it('takes quality for lossy formats only, with each format’s default', () => {
    expect(resolveOptions(req({ format: 'avif' }), ctx).quality).toBe(50);
    expect(resolveOptions(req({ format: 'png' }), ctx).quality).toBeUndefined();
    expect(refusal(() => resolveOptions(req({ format: 'png', quality: 50 }), ctx))).toEqual({
      status: 400,
      field: 'quality',
    });
  });

  it.each([
    [{ url: 'https://a.example', html: '<p>' }, 'html'],
    [{ format: 'jpeg', omitBackground: true }, 'omitBackground'],
    [{ fullPage: true, selector: '#a' }, 'selector'],
    [{ format: 'pdf', clip: '0,0,1,1' }, 'clip'],
    [{ headers: { Host: 'x' } }, 'headers'],
    [{ headers: { Cookie2: 'x' } }, 'headers'],
    [{ clip: '0,0,0,5' }, 'clip'],
    [{ html: '<p>', cookies: [{ name: 'a', value: 'b' }] }, 'html'],
    [{ url: 'file:///etc/passwd' }, 'url'],
  ])('refuses %j naming %s', (over, field) => {
    expect(refusal(() => resolveOptions(req(over), ctx))).toEqual({ status: 400, field });
  });

  it('refuses numbers written other than as plain decimals', () => {
    expect(refusal(() => checkNumberSpelling({ width: '0x10' }))).toEqual({ status: 400, field: 'width' });
    expect(refusal(() => checkNumberSpelling({ scale: ['1', '1e1'] }))).toEqual({ status: 400, field: 'scale' });
    expect(refusal(() => checkNumberSpelling({ width: '100', scale: '1.5', url: '0x10' }))).toBeUndefined();
  });
});

describe('cacheKey', () => {
  const key = (over: Record<string, unknown>, accept?: string) =>
    cacheKey(resolveOptions(req(over), { ...ctx, accept }));
  it('names the image: a different target, option or format is a different key', () => {
    const base = key({ url: 'https://a.example/' });
    expect(key({ url: 'https://b.example/' })).not.toBe(base);
    expect(key({ url: 'https://a.example/', width: 1000 })).not.toBe(base);
    expect(key({ url: 'https://a.example/' }, 'image/webp')).not.toBe(base);
    expect(key({ url: 'https://a.example/', headers: { 'X-A': '1' } })).not.toBe(base);
  });
  it('is the same for the same image however it was asked for', () => {
    const base = key({ url: 'https://a.example/' });
    expect(key({ url: 'A.EXAMPLE' })).toBe(base); // one normalised target
    expect(key({ url: 'https://a.example/', timeout: 5000 })).toBe(base); // the deadline does not change the image
    expect(key({ url: 'https://a.example/', headers: { b: '2', a: '1' } })).toBe(
      key({ url: 'https://a.example/', headers: { a: '1', b: '2' } }),
    );
  });
});
