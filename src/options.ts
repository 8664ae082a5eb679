/**
 * The capture options a caller may send, as one typebox schema. Fastify validates the query with it,
 * the README documents it, and `resolveOptions` turns a validated query into the CaptureOptions the
 * pipeline runs on (defaults filled, format negotiated, timeout clamped).
 */
import { Type, type Static } from '@sinclair/typebox';
import { invalidOption } from './errors.js';

export const FORMATS = ['png', 'jpeg', 'webp', 'avif'] as const;
export type ImageFormat = (typeof FORMATS)[number];

export const WAIT_UNTIL = ['load', 'domcontentloaded', 'networkidle0', 'networkidle2'] as const;
export type WaitUntil = (typeof WAIT_UNTIL)[number];

export const LIMITS = {
  urlLength: 2048,
  width: { min: 16, max: 3840, default: 1280 },
  height: { min: 16, max: 4320, default: 800 },
  scale: { min: 1, max: 3, default: 1 },
  quality: { min: 1, max: 100 },
  delay: { min: 0, max: 10_000, default: 0 },
  timeout: { min: 1_000, max: 120_000 },
  /** Tallest full-page capture, in CSS pixels (Chromium's texture limit is 16384 device pixels). */
  fullPageHeight: 16_384,
} as const;

/** Default quality for each lossy format when the caller names none. */
export const DEFAULT_QUALITY: Record<Exclude<ImageFormat, 'png'>, number> = { jpeg: 80, webp: 80, avif: 50 };

const Bool = Type.Boolean();

export const QuerySchema = Type.Object(
  {
    url: Type.Optional(
      Type.String({ minLength: 1, maxLength: LIMITS.urlLength, description: 'Page to capture; a bare host means https://host' }),
    ),
    width: Type.Integer({ minimum: LIMITS.width.min, maximum: LIMITS.width.max, default: LIMITS.width.default, description: 'Viewport width, CSS px' }),
    height: Type.Integer({ minimum: LIMITS.height.min, maximum: LIMITS.height.max, default: LIMITS.height.default, description: 'Viewport height, CSS px' }),
    scale: Type.Number({ minimum: LIMITS.scale.min, maximum: LIMITS.scale.max, default: LIMITS.scale.default, description: 'Device scale factor' }),
    fullPage: Type.Boolean({ default: false, description: 'Capture the whole scrollable page' }),
    format: Type.Optional(Type.Union(FORMATS.map((f) => Type.Literal(f)), { description: 'Image format; default from Accept, else png' })),
    quality: Type.Optional(Type.Integer({ minimum: LIMITS.quality.min, maximum: LIMITS.quality.max, description: 'Lossy quality (jpeg, webp, avif)' })),
    waitUntil: Type.Union(WAIT_UNTIL.map((w) => Type.Literal(w)), { default: 'load', description: 'When navigation counts as done' }),
    delay: Type.Integer({ minimum: LIMITS.delay.min, maximum: LIMITS.delay.max, default: LIMITS.delay.default, description: 'Extra wait after load, ms' }),
    timeout: Type.Optional(Type.Integer({ minimum: LIMITS.timeout.min, maximum: LIMITS.timeout.max, description: "Deadline for the whole request, ms; capped by the server's maximum" })),
    token: Type.Optional(Type.String({ maxLength: 512, description: 'Access token, when the operator set AUTH_TOKEN' })),
    expires: Type.Optional(Type.Integer({ minimum: 0, description: 'Signed URLs: expiry, Unix seconds' })),
    signature: Type.Optional(Type.String({ maxLength: 128, description: 'Signed URLs: hex HMAC-SHA256 of the canonical query' })),
  },
  { additionalProperties: false },
);
void Bool;

export type Query = Static<typeof QuerySchema>;

export interface CaptureOptions {
  url: string;
  width: number;
  height: number;
  scale: number;
  fullPage: boolean;
  format: ImageFormat;
  /** Undefined for png. */
  quality?: number;
  waitUntil: WaitUntil;
  delay: number;
  /** Whole-request deadline, ms, already clamped to the server's maximum. */
  timeout: number;
}

const MIME: Record<ImageFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  avif: 'image/avif',
};
export const mimeOf = (format: ImageFormat): string => MIME[format];

/**
 * Chooses a format from an Accept header: the image type with the highest q-value we can make.
 * Ties go to the cheaper encoder first (webp, png, jpeg, avif); `*\/*`, `image/*` or nothing means png.
 */
export function negotiateFormat(accept: string | undefined): ImageFormat {
  if (!accept) return 'png';
  const preference: ImageFormat[] = ['webp', 'png', 'jpeg', 'avif'];
  let best: ImageFormat = 'png';
  let bestQ = 0;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!(q > 0)) continue;
    const format = preference.find((f) => MIME[f] === type.trim());
    if (!format) continue;
    if (q > bestQ || (q === bestQ && preference.indexOf(format) < preference.indexOf(best))) {
      best = format;
      bestQ = q;
    }
  }
  return best;
}

export function resolveOptions(
  query: Query,
  ctx: { accept?: string; defaultUrl: string; maxTimeoutMs: number },
): CaptureOptions {
  const format = query.format ?? negotiateFormat(ctx.accept);
  if (query.quality !== undefined && query.format === 'png') {
    throw invalidOption('quality', 'quality applies to jpeg, webp and avif only');
  }
  return {
    url: query.url ?? ctx.defaultUrl,
    width: query.width,
    height: query.height,
    scale: query.scale,
    fullPage: query.fullPage,
    format,
    quality: format === 'png' ? undefined : (query.quality ?? DEFAULT_QUALITY[format]),
    waitUntil: query.waitUntil,
    delay: query.delay,
    timeout: Math.min(query.timeout ?? ctx.maxTimeoutMs, ctx.maxTimeoutMs),
  };
}
