/**
 * Every capture option a caller may send, as one typebox schema. Fastify validates the GET query and
 * the POST body with it, GET /openapi.json publishes it, and `resolveOptions` turns a validated
 * request into the CaptureOptions the pipeline runs on (defaults filled, format negotiated, timeout
 * clamped, combinations checked). Each option's description is its documentation.
 */
import { KnownDevices } from 'puppeteer-core';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { invalidOption } from './errors.js';
import { parseTargetUrl } from './policy/target-url.js';
import { FORMATS, negotiateFormat, spec, type OutputFormat } from './formats.js';

export const WAIT_UNTIL = ['load', 'domcontentloaded', 'networkidle0', 'networkidle2'] as const;
export type WaitUntil = (typeof WAIT_UNTIL)[number];

export const RESOURCE_TYPES = [
  'image',
  'media',
  'font',
  'stylesheet',
  'script',
  'xhr',
  'fetch',
  'websocket',
  'eventsource',
  'manifest',
  'other',
] as const;
export const PAPER_FORMATS = [
  'letter',
  'legal',
  'tabloid',
  'ledger',
  'a0',
  'a1',
  'a2',
  'a3',
  'a4',
  'a5',
  'a6',
] as const;
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
  /**
   * The most device pixels one capture may be (viewport, clip, element or full page): 128 MB as raw
   * RGBA, which Chromium's GPU process and sharp each hold once. It fits one capture's memory share
   * on FC (README "Memory"); a larger element or page is cut (X-Truncated), a larger clip refused.
   */
  capturePixels: 32 * 1024 * 1024,
  selectors: 20,
  selectorLength: 500,
  css: 100_000,
  headers: 30,
  cookies: 30,
} as const;

const lossyFormats = () => FORMATS.filter((f) => spec(f).defaultQuality !== undefined);
const transparentFormats = () => FORMATS.filter((f) => spec(f).transparency && !spec(f).printed);

/**
 * An HTTP field name (RFC 9110 token) and value (no control characters but tab, C1 included: U+0085 is
 * a line break to some parsers): what Chromium will send.
 */
const HEADER_NAME = "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$";
/** Every control character but tab (C0 without U+0009, DEL, C1), as a character-class range. */
const CONTROL_BUT_TAB = '\\u0000-\\u0008\\u000A-\\u001F\\u007F-\\u009F';
const HEADER_VALUE = `^[^${CONTROL_BUT_TAB}]*$`;
/** RFC 6265: a cookie name is a token; a value has no control characters, `;` or `,`. */
const COOKIE_NAME = HEADER_NAME;
const COOKIE_VALUE = `^[^\\u0009${CONTROL_BUT_TAB};,]*$`;
/** `user:password`, neither with a control character. */
const BASIC_AUTH = `^[^:\\u0009${CONTROL_BUT_TAB}]{1,256}:[^\\u0009${CONTROL_BUT_TAB}]{0,256}$`;

const literals = <T extends readonly string[]>(values: T, options: Record<string, unknown> = {}) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  );
const opt = <T extends TSchema>(schema: T) => Type.Optional(schema);
const Selector = Type.String({ minLength: 1, maxLength: LIMITS.selectorLength });
/** A list: `?hide=.a&hide=.b` in a query, an array in JSON. */
const Selectors = (description: string) =>
  opt(Type.Array(Selector, { maxItems: LIMITS.selectors, description, default: [] }));

export const OptionsSchema = Type.Object(
  {
    // What to capture
    url: opt(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.urlLength,
        description: 'Page to capture; a bare host means https://host. Default: the service’s DEFAULT_URL',
      }),
    ),
    html: opt(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.htmlLength,
        description:
          'Raw HTML to render instead of a URL (POST only in practice); its sub-resources obey the egress guard',
      }),
    ),
    // Viewport and device
    width: Type.Integer({
      minimum: LIMITS.width.min,
      maximum: LIMITS.width.max,
      default: LIMITS.width.default,
      description: 'Viewport width, CSS px',
    }),
    height: Type.Integer({
      minimum: LIMITS.height.min,
      maximum: LIMITS.height.max,
      default: LIMITS.height.default,
      description: 'Viewport height, CSS px',
    }),
    scale: Type.Number({
      minimum: LIMITS.scale.min,
      maximum: LIMITS.scale.max,
      default: LIMITS.scale.default,
      description: 'Device scale factor: the image is width×scale by height×scale pixels',
    }),
    device: opt(
      literals(DEVICES, {
        description:
          'A named device (puppeteer’s KnownDevices, e.g. "iPhone 15"): its viewport, scale, touch and user agent; overrides width/height/scale',
      }),
    ),
    mobile: Type.Boolean({ default: false, description: 'Emulate a mobile viewport (meta viewport, touch)' }),
    darkMode: Type.Boolean({ default: false, description: 'prefers-color-scheme: dark' }),
    reducedMotion: Type.Boolean({
      default: false,
      description: 'prefers-reduced-motion: reduce, and CSS animations and transitions switched off',
    }),
    timezone: opt(
      Type.String({
        pattern: '^[A-Za-z_]+(/[A-Za-z0-9_+-]+){0,2}$|^UTC$',
        maxLength: 64,
        description: 'IANA time zone, e.g. Asia/Shanghai',
      }),
    ),
    locale: opt(
      Type.String({
        pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$',
        maxLength: 35,
        description: 'Language, e.g. zh-CN: Accept-Language and navigator.language',
      }),
    ),
    // Framing
    fullPage: Type.Boolean({
      default: false,
      description:
        'Capture the whole page: lazy content is loaded first by scrolling through it; pages taller than Chromium’s texture limit are captured in slices and joined',
    }),
    fullPageMaxHeight: Type.Integer({
      minimum: LIMITS.fullPageMaxHeight.min,
      maximum: LIMITS.fullPageMaxHeight.max,
      default: LIMITS.fullPageMaxHeight.default,
      description: 'Height cap for fullPage, CSS px',
    }),
    selector: opt(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.selectorLength,
        description: 'Capture only the first element matching this CSS selector (404 when none does)',
      }),
    ),
    clip: opt(
      Type.String({
        pattern: '^\\d{1,5},\\d{1,5},\\d{1,5},\\d{1,5}$',
        description: 'Capture this rectangle of the page: "x,y,width,height" in CSS px',
      }),
    ),
    omitBackground: Type.Boolean({
      default: false,
      description: `Transparent background where the page has none (${FORMATS.filter((f) => spec(f).transparency).join(', ')})`,
    }),
    // Output
    format: opt(literals(FORMATS, { description: `${FORMATS.join(' | ')}; default from Accept, else png` })),
    quality: opt(
      Type.Integer({
        minimum: LIMITS.quality.min,
        maximum: LIMITS.quality.max,
        description: `Lossy quality (by default ${lossyFormats()
          .map((f) => `${f} ${spec(f).defaultQuality}`)
          .join(', ')})`,
      }),
    ),
    paper: Type.Union(
      PAPER_FORMATS.map((f) => Type.Literal(f)),
      { default: 'a4', description: 'PDF paper size' },
    ),
    landscape: Type.Boolean({ default: false, description: 'PDF in landscape' }),
    printBackground: Type.Boolean({ default: true, description: 'PDF with background colours and images' }),
    margin: opt(
      Type.String({
        pattern: '^\\d{1,3}(\\.\\d+)?(mm|cm|in|px)?$',
        description: 'PDF margin on every side, e.g. 10mm',
      }),
    ),
    // Waiting
    waitUntil: literals(WAIT_UNTIL, { default: 'load', description: 'When navigation counts as done' }),
    waitForSelector: opt(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.selectorLength,
        description: 'Wait until an element matching this selector is visible',
      }),
    ),
    delay: Type.Integer({
      minimum: LIMITS.delay.min,
      maximum: LIMITS.delay.max,
      default: LIMITS.delay.default,
      description: 'Extra wait before the capture, ms',
    }),
    timeout: opt(
      Type.Integer({
        minimum: LIMITS.timeout.min,
        maximum: LIMITS.timeout.max,
        description: 'Deadline for the whole request, ms; capped by the server’s REQUEST_TIMEOUT_MS',
      }),
    ),
    bestAttempt: Type.Boolean({
      default: false,
      description: 'When a wait (waitUntil, waitForSelector) times out, capture anyway; X-Best-Attempt says so',
    }),
    settle: Type.Boolean({
      default: true,
      description:
        'Before the capture (at most 5 s, and a third of the time left): what the page fetches after load finished, web fonts and late images loaded, finite animations at their end, and a page still changing by itself watched until it stands still',
    }),
    // Changing the page
    hide: Selectors('Hide these elements (visibility: hidden)'),
    remove: Selectors('Remove these elements (display: none)'),
    css: opt(
      Type.String({ minLength: 1, maxLength: LIMITS.css, description: 'A style sheet to inject before the capture' }),
    ),
    click: opt(
      Type.String({
        minLength: 1,
        maxLength: LIMITS.selectorLength,
        description: 'Click the first element matching this selector before the capture',
      }),
    ),
    hideCookieBanners: Type.Boolean({
      default: false,
      description: 'Opt out of cookie-consent pop-ups (DuckDuckGo autoconsent rules), or hide them; at most 5 s',
    }),
    blockResources: opt(
      Type.Array(literals(RESOURCE_TYPES), {
        maxItems: RESOURCE_TYPES.length,
        default: [],
        description: 'Do not load these kinds of resource (image, media, font, …)',
      }),
    ),
    blockUrls: opt(
      Type.Array(Type.String({ minLength: 1, maxLength: 500 }), {
        maxItems: LIMITS.selectors,
        default: [],
        description: 'Do not load URLs matching these patterns (* matches anything)',
      }),
    ),
    // Sent to the target site only
    headers: opt(
      Type.Record(Type.String({ pattern: HEADER_NAME }), Type.String({ maxLength: 2048, pattern: HEADER_VALUE }), {
        maxProperties: LIMITS.headers,
        additionalProperties: false,
        default: {},
        description: 'Extra request headers for the target page’s own origin (JSON object; in a query, JSON text)',
      }),
    ),
    cookies: opt(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 256, pattern: COOKIE_NAME }),
            value: Type.String({ maxLength: 4096, pattern: COOKIE_VALUE }),
          },
          { additionalProperties: false },
        ),
        {
          maxItems: LIMITS.cookies,
          default: [],
          description: 'Cookies for the target page’s site: [{"name":…,"value":…}]',
        },
      ),
    ),
    userAgent: opt(
      Type.String({ minLength: 1, maxLength: 512, pattern: HEADER_VALUE, description: 'User-Agent to send' }),
    ),
    auth: opt(
      Type.String({
        pattern: BASIC_AUTH,
        description: 'HTTP basic auth for the target page’s origin: "user:password"',
      }),
    ),
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

/** Lists and maps the schema defaults to empty ones: the pipeline always has them. */
type Defaulted = 'hide' | 'remove' | 'blockResources' | 'blockUrls' | 'headers' | 'cookies';

/** A request as validation leaves it: the schema's defaults filled in (ajv's useDefaults; Value.Default in tests). */
export type ValidatedOptions = RequestOptions & Required<Pick<RequestOptions, Defaulted>>;

/** Options the pipeline gets in another shape than the caller sent them (or not at all). */
type Reshaped =
  | 'url'
  | 'format'
  | 'quality'
  | 'clip'
  | 'auth'
  | 'timeout'
  | 'paper'
  | 'landscape'
  | 'printBackground'
  | 'margin'
  | 'token'
  | 'expires'
  | 'signature'
  | 'device'
  | 'waitUntil';

/** What the pipeline runs on: every request option as sent (with the schema's defaults), but for the few resolveOptions reshapes. */
export interface CaptureOptions
  extends Omit<RequestOptions, Reshaped | Defaulted>,
    Required<Pick<RequestOptions, Defaulted>> {
  /** The page to load, parsed and normalised once (policy/target-url.ts); undefined when `html` is given. */
  target?: URL;
  format: OutputFormat;
  /** Undefined for lossless formats. */
  quality?: number;
  clip?: Clip;
  auth?: { username: string; password: string };
  /** Whole-request deadline, ms, already clamped to the server's maximum. */
  timeout: number;
  pdf: { paper: (typeof PAPER_FORMATS)[number]; landscape: boolean; printBackground: boolean; margin?: string };
  device?: (typeof DEVICES)[number];
  waitUntil: WaitUntil;
}

/** Headers a caller may not set for the target: they belong to the connection, the proxy or the browser. */
const FORBIDDEN_HEADERS =
  /^(host|connection|content-length|transfer-encoding|upgrade|te|trailer|keep-alive|proxy-.*|cookie|cookie2|set-cookie|x-fc-.*)$/i;

/** Numbers in a query (or as JSON strings) are plain decimals: no `0x10`, `1e3`, `Infinity` or padding. */
const DECIMAL = /^-?\d{1,15}(\.\d{1,15})?$/;
const NUMERIC_FIELDS = Object.entries(OptionsSchema.properties)
  .filter(([, schema]) => schema.type === 'integer' || schema.type === 'number')
  .map(([name]) => name);

/** Refuses numbers in a spelling the validator would coerce into something the caller did not write. */
export function checkNumberSpelling(input: Record<string, unknown>): void {
  for (const field of NUMERIC_FIELDS) {
    const value = input[field];
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (typeof v === 'string' && !DECIMAL.test(v)) throw invalidOption(field, `${field} must be a decimal number`);
    }
  }
}

export function resolveOptions(
  req: ValidatedOptions,
  ctx: { accept?: string; defaultUrl: string; maxTimeoutMs: number },
): CaptureOptions {
  const format = (req.format as OutputFormat | undefined) ?? negotiateFormat(ctx.accept);
  const { defaultQuality, transparency, printed } = spec(format);
  if (req.quality !== undefined && defaultQuality === undefined) {
    throw invalidOption('quality', `quality applies to lossy formats only (${lossyFormats().join(', ')})`);
  }
  if (req.url !== undefined && req.html !== undefined) throw invalidOption('html', 'send url or html, not both');
  if (req.omitBackground && !transparency) {
    throw invalidOption('omitBackground', `${format} has no transparency; use ${transparentFormats().join(', ')}`);
  }
  const framings = [
    req.fullPage && 'fullPage',
    req.selector !== undefined && 'selector',
    req.clip !== undefined && 'clip',
  ].filter(Boolean);
  if (framings.length > 1) throw invalidOption(framings[1] as string, `${framings.join(' and ')} cannot be combined`);
  if (printed && framings.length)
    throw invalidOption(framings[0] as string, 'pdf prints the whole page; drop the framing option');
  for (const name of Object.keys(req.headers)) {
    if (FORBIDDEN_HEADERS.test(name)) throw invalidOption('headers', `header "${name}" cannot be set`);
  }
  let clip: Clip | undefined;
  if (req.clip) {
    const [x, y, width, height] = req.clip.split(',').map(Number) as [number, number, number, number];
    if (width < 1 || height < 1) throw invalidOption('clip', 'clip width and height must be at least 1');
    clip = { x, y, width, height };
  }
  const auth = req.auth
    ? { username: req.auth.slice(0, req.auth.indexOf(':')), password: req.auth.slice(req.auth.indexOf(':') + 1) }
    : undefined;

  const target = req.html === undefined ? parseTargetUrl(req.url ?? ctx.defaultUrl) : undefined;
  if (!target && (req.cookies.length || Object.keys(req.headers).length || req.auth)) {
    throw invalidOption('html', 'headers, cookies and auth go to a target URL; html has none');
  }

  // Everything else is passed on as sent: a new option cannot be forgotten here.
  const {
    url: _url,
    token: _token,
    expires: _expires,
    signature: _signature,
    paper,
    landscape,
    printBackground,
    margin,
    ...rest
  } = req;
  return {
    ...rest,
    target,
    format,
    quality: defaultQuality === undefined ? undefined : (req.quality ?? defaultQuality),
    clip,
    auth,
    timeout: Math.min(req.timeout ?? ctx.maxTimeoutMs, ctx.maxTimeoutMs),
    pdf: { paper, landscape, printBackground, margin },
    device: req.device as CaptureOptions['device'],
    waitUntil: req.waitUntil as WaitUntil,
  };
}
