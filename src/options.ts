/**
 * Every capture option a caller may send, as one typebox schema. Fastify validates the GET query and
 * the POST body with it, GET /openapi.json publishes it, and `resolveOptions` turns a validated
 * request into the CaptureOptions the pipeline runs on (defaults filled, format negotiated, timeout
 * clamped, combinations checked). Each option's description is its documentation.
 */
import { KnownDevices } from 'puppeteer-core';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { invalidOption } from './errors.js';

export const IMAGE_FORMATS = ['png', 'jpeg', 'webp', 'avif'] as const;
export const FORMATS = [...IMAGE_FORMATS, 'pdf'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];
export type OutputFormat = (typeof FORMATS)[number];

export const WAIT_UNTIL = ['load', 'domcontentloaded', 'networkidle0', 'networkidle2'] as const;
export type WaitUntil = (typeof WAIT_UNTIL)[number];

export const RESOURCE_TYPES = ['image', 'media', 'font', 'stylesheet', 'script', 'xhr', 'fetch', 'websocket', 'eventsource', 'manifest', 'other'] as const;
export const PAPER_FORMATS = ['letter', 'legal', 'tabloid', 'ledger', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6'] as const;
export const DEVICES = Object.keys(KnownDevices) as Array<keyof typeof KnownDevices>;

export const LIMITS = {
  urlLength: 2048,
  htmlLength: 1_000_000,
  width: { min: 16, max: 3840, default: 1280 },
  height: { min: 16, max: 4320, default: 800 },
  scale: { min: 1, max: 3, default: 1 },
  quality: { min: 1, max: 100 },
  delay: { min: 0, max: 10_000, default: 0 },
  timeout: { min: 1_000, max: 120_000 },
  /** Tallest full-page capture, CSS px; taller pages are cut there (and the response says so). */
  fullPageMaxHeight: { min: 100, max: 50_000, default: 20_000 },
  selectors: 20,
  selectorLength: 500,
  css: 100_000,
  headers: 30,
  cookies: 30,
} as const;

/** Default quality for each lossy format when the caller names none. */
export const DEFAULT_QUALITY: Record<Exclude<ImageFormat, 'png'>, number> = { jpeg: 80, webp: 80, avif: 50 };

const literals = <T extends readonly string[]>(values: T, options: Record<string, unknown> = {}) =>
  Type.Union(values.map((v) => Type.Literal(v)), options);
const opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const Selector = Type.String({ minLength: 1, maxLength: LIMITS.selectorLength });
/** A list: `?hide=.a&hide=.b` in a query, an array in JSON. */
const Selectors = (description: string) => opt(Type.Array(Selector, { maxItems: LIMITS.selectors, description }));

export const OptionsSchema = Type.Object(
  {
    // What to capture
    url: opt(Type.String({ minLength: 1, maxLength: LIMITS.urlLength, description: 'Page to capture; a bare host means https://host. Default: the service’s DEFAULT_URL' })),
    html: opt(Type.String({ minLength: 1, maxLength: LIMITS.htmlLength, description: 'Raw HTML to render instead of a URL (POST only in practice); its sub-resources obey the egress guard' })),
    // Viewport and device
    width: Type.Integer({ minimum: LIMITS.width.min, maximum: LIMITS.width.max, default: LIMITS.width.default, description: 'Viewport width, CSS px' }),
    height: Type.Integer({ minimum: LIMITS.height.min, maximum: LIMITS.height.max, default: LIMITS.height.default, description: 'Viewport height, CSS px' }),
    scale: Type.Number({ minimum: LIMITS.scale.min, maximum: LIMITS.scale.max, default: LIMITS.scale.default, description: 'Device scale factor: the image is width×scale by height×scale pixels' }),
    device: opt(literals(DEVICES, { description: 'A named device (puppeteer’s KnownDevices, e.g. "iPhone 15"): its viewport, scale, touch and user agent; overrides width/height/scale' })),
    mobile: Type.Boolean({ default: false, description: 'Emulate a mobile viewport (meta viewport, touch)' }),
    darkMode: Type.Boolean({ default: false, description: 'prefers-color-scheme: dark' }),
    reducedMotion: Type.Boolean({ default: false, description: 'prefers-reduced-motion: reduce, and CSS animations and transitions switched off' }),
    timezone: opt(Type.String({ pattern: '^[A-Za-z_]+(/[A-Za-z0-9_+-]+){0,2}$|^UTC$', maxLength: 64, description: 'IANA time zone, e.g. Asia/Shanghai' })),
    locale: opt(Type.String({ pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$', maxLength: 35, description: 'Language, e.g. zh-CN: Accept-Language and navigator.language' })),
    // Framing
    fullPage: Type.Boolean({ default: false, description: 'Capture the whole page: lazy content is loaded first by scrolling through it; pages taller than Chromium’s texture limit are captured in slices and joined' }),
    fullPageMaxHeight: Type.Integer({ minimum: LIMITS.fullPageMaxHeight.min, maximum: LIMITS.fullPageMaxHeight.max, default: LIMITS.fullPageMaxHeight.default, description: 'Height cap for fullPage, CSS px' }),
    selector: opt(Type.String({ minLength: 1, maxLength: LIMITS.selectorLength, description: 'Capture only the first element matching this CSS selector (404 when none does)' })),
    clip: opt(Type.String({ pattern: '^\\d{1,5},\\d{1,5},\\d{1,5},\\d{1,5}$', description: 'Capture this rectangle of the page: "x,y,width,height" in CSS px' })),
    omitBackground: Type.Boolean({ default: false, description: 'Transparent background where the page has none (png, webp, avif)' }),
    // Output
    format: opt(literals(FORMATS, { description: 'png | jpeg | webp | avif | pdf; default from Accept, else png' })),
    quality: opt(Type.Integer({ minimum: LIMITS.quality.min, maximum: LIMITS.quality.max, description: 'Lossy quality (jpeg 80, webp 80, avif 50 by default)' })),
    paper: Type.Union(PAPER_FORMATS.map((f) => Type.Literal(f)), { default: 'a4', description: 'PDF paper size' }),
    landscape: Type.Boolean({ default: false, description: 'PDF in landscape' }),
    printBackground: Type.Boolean({ default: true, description: 'PDF with background colours and images' }),
    margin: opt(Type.String({ pattern: '^\\d{1,3}(\\.\\d+)?(mm|cm|in|px)?$', description: 'PDF margin on every side, e.g. 10mm' })),
    // Waiting
    waitUntil: literals(WAIT_UNTIL, { default: 'load', description: 'When navigation counts as done' }),
    waitForSelector: opt(Type.String({ minLength: 1, maxLength: LIMITS.selectorLength, description: 'Wait until an element matching this selector is visible' })),
    delay: Type.Integer({ minimum: LIMITS.delay.min, maximum: LIMITS.delay.max, default: LIMITS.delay.default, description: 'Extra wait before the capture, ms' }),
    timeout: opt(Type.Integer({ minimum: LIMITS.timeout.min, maximum: LIMITS.timeout.max, description: 'Deadline for the whole request, ms; capped by the server’s REQUEST_TIMEOUT_MS' })),
    bestAttempt: Type.Boolean({ default: false, description: 'When a wait (waitUntil, waitForSelector) times out, capture anyway; X-Best-Attempt says so' }),
    settle: Type.Boolean({ default: true, description: 'Before the capture (at most 3 s): web fonts loaded, images still loading in the viewport decoded, finite CSS and Web Animations finished at their end state' }),
    // Changing the page
    hide: Selectors('Hide these elements (visibility: hidden)'),
    remove: Selectors('Remove these elements (display: none)'),
    css: opt(Type.String({ minLength: 1, maxLength: LIMITS.css, description: 'A style sheet to inject before the capture' })),
    click: opt(Type.String({ minLength: 1, maxLength: LIMITS.selectorLength, description: 'Click the first element matching this selector before the capture' })),
    blockResources: opt(Type.Array(literals(RESOURCE_TYPES), { maxItems: RESOURCE_TYPES.length, description: 'Do not load these kinds of resource (image, media, font, …)' })),
    blockUrls: opt(Type.Array(Type.String({ minLength: 1, maxLength: 500 }), { maxItems: LIMITS.selectors, description: 'Do not load URLs matching these patterns (* matches anything)' })),
    // Sent to the target site only
    headers: opt(Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }), Type.String({ maxLength: 2048 }), { maxProperties: LIMITS.headers, description: 'Extra request headers for the target page’s own origin (JSON object; in a query, JSON text)' })),
    cookies: opt(Type.Array(Type.Object({ name: Type.String({ minLength: 1, maxLength: 256 }), value: Type.String({ maxLength: 4096 }) }, { additionalProperties: false }), { maxItems: LIMITS.cookies, description: 'Cookies for the target page’s site: [{"name":…,"value":…}]' })),
    userAgent: opt(Type.String({ minLength: 1, maxLength: 512, description: 'User-Agent to send' })),
    auth: opt(Type.String({ pattern: '^[^:]{1,256}:.{0,256}$', description: 'HTTP basic auth for the target page’s origin: "user:password"' })),
    // Access control
    token: opt(Type.String({ maxLength: 512, description: 'Access token, when the operator set AUTH_TOKEN' })),
    expires: opt(Type.Integer({ minimum: 0, description: 'Signed URLs: expiry, Unix seconds' })),
    signature: opt(Type.String({ maxLength: 128, description: 'Signed URLs: hex HMAC-SHA256 of the canonical query' })),
  },
  { additionalProperties: false },
);

export type RequestOptions = Static<typeof OptionsSchema>;

/** Query parameters whose value is JSON text (objects and arrays of objects do not fit a query). */
export const JSON_QUERY_FIELDS = ['headers', 'cookies'] as const;

export interface Clip {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface CaptureOptions {
  /** The page to load, or undefined when `html` is given. */
  url?: string;
  html?: string;
  width: number;
  height: number;
  scale: number;
  device?: (typeof DEVICES)[number];
  mobile: boolean;
  darkMode: boolean;
  reducedMotion: boolean;
  timezone?: string;
  locale?: string;
  fullPage: boolean;
  fullPageMaxHeight: number;
  selector?: string;
  clip?: Clip;
  omitBackground: boolean;
  format: OutputFormat;
  /** Undefined for png and pdf. */
  quality?: number;
  pdf: { paper: (typeof PAPER_FORMATS)[number]; landscape: boolean; printBackground: boolean; margin?: string };
  waitUntil: WaitUntil;
  waitForSelector?: string;
  delay: number;
  /** Whole-request deadline, ms, already clamped to the server's maximum. */
  timeout: number;
  bestAttempt: boolean;
  /** Settle the page before the capture (fonts, images, animations): src/capture/settle.ts. */
  settle: boolean;
  hide: string[];
  remove: string[];
  css?: string;
  click?: string;
  blockResources: string[];
  blockUrls: string[];
  headers: Record<string, string>;
  cookies: Array<{ name: string; value: string }>;
  userAgent?: string;
  auth?: { username: string; password: string };
}

const MIME: Record<OutputFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  avif: 'image/avif',
  pdf: 'application/pdf',
};
export const mimeOf = (format: OutputFormat): string => MIME[format];

/**
 * Chooses an image format from an Accept header: the type with the highest q-value we can make.
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

/** Headers a caller may not set for the target: they belong to the connection, the proxy or the browser. */
const FORBIDDEN_HEADERS = /^(host|connection|content-length|transfer-encoding|upgrade|te|trailer|keep-alive|proxy-.*|cookie|x-fc-.*)$/i;

export function resolveOptions(
  req: RequestOptions,
  ctx: { accept?: string; defaultUrl: string; maxTimeoutMs: number },
): CaptureOptions {
  const format = (req.format as OutputFormat | undefined) ?? negotiateFormat(ctx.accept);
  const lossy = format === 'jpeg' || format === 'webp' || format === 'avif';
  if (req.quality !== undefined && !lossy) throw invalidOption('quality', 'quality applies to jpeg, webp and avif only');
  if (req.url !== undefined && req.html !== undefined) throw invalidOption('html', 'send url or html, not both');
  if (req.omitBackground && format === 'jpeg') throw invalidOption('omitBackground', 'jpeg has no transparency; use png, webp or avif');
  const framings = [req.fullPage && 'fullPage', req.selector !== undefined && 'selector', req.clip !== undefined && 'clip'].filter(Boolean);
  if (framings.length > 1) throw invalidOption(framings[1] as string, `${framings.join(' and ')} cannot be combined`);
  if (format === 'pdf' && framings.length) throw invalidOption(framings[0] as string, 'pdf prints the whole page; drop the framing option');
  for (const name of Object.keys(req.headers ?? {})) {
    if (FORBIDDEN_HEADERS.test(name)) throw invalidOption('headers', `header "${name}" cannot be set`);
  }
  let clip: Clip | undefined;
  if (req.clip) {
    const [x, y, width, height] = req.clip.split(',').map(Number) as [number, number, number, number];
    if (width < 1 || height < 1) throw invalidOption('clip', 'clip width and height must be at least 1');
    clip = { x, y, width, height };
  }
  const auth = req.auth ? { username: req.auth.slice(0, req.auth.indexOf(':')), password: req.auth.slice(req.auth.indexOf(':') + 1) } : undefined;

  return {
    url: req.html === undefined ? (req.url ?? ctx.defaultUrl) : undefined,
    html: req.html,
    width: req.width,
    height: req.height,
    scale: req.scale,
    device: req.device as CaptureOptions['device'],
    mobile: req.mobile,
    darkMode: req.darkMode,
    reducedMotion: req.reducedMotion,
    timezone: req.timezone,
    locale: req.locale,
    fullPage: req.fullPage,
    fullPageMaxHeight: req.fullPageMaxHeight,
    selector: req.selector,
    clip,
    omitBackground: req.omitBackground,
    format,
    quality: lossy ? (req.quality ?? DEFAULT_QUALITY[format]) : undefined,
    pdf: { paper: req.paper as CaptureOptions['pdf']['paper'], landscape: req.landscape, printBackground: req.printBackground, margin: req.margin },
    waitUntil: req.waitUntil as WaitUntil,
    waitForSelector: req.waitForSelector,
    delay: req.delay,
    timeout: Math.min(req.timeout ?? ctx.maxTimeoutMs, ctx.maxTimeoutMs),
    bestAttempt: req.bestAttempt,
    settle: req.settle,
    hide: req.hide ?? [],
    remove: req.remove ?? [],
    css: req.css,
    click: req.click,
    blockResources: req.blockResources ?? [],
    blockUrls: req.blockUrls ?? [],
    headers: req.headers ?? {},
    cookies: req.cookies ?? [],
    userAgent: req.userAgent,
    auth,
  };
}
