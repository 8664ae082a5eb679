/**
 * GET /playground: a page that teaches the API. Its form is generated in the browser from
 * /openapi.json (the schema the server validates with), so a new option appears there by itself, in
 * the group named here or, when no group names it, in "More". Beside the image: the request as curl,
 * fetch and JSON, the response's headers, and the Server-Timing phases as a bar.
 *
 * The page is static: the only server data in it is the JSON below (groups, access settings), never
 * anything from the request. Its script and style are served by the service (no CDN, no build step),
 * and a strict Content-Security-Policy keeps it to that.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PLAYGROUND_SCRIPT } from './playground-client.js';
import { PLAYGROUND_HTML, PLAYGROUND_STYLE } from './playground-page.js';

/** The form's sections, in order; an option no group lists goes to the last, default one. */
export const GROUPS: ReadonlyArray<{ id: string; title: string; open: boolean; options: readonly string[] }> = [
  {
    id: 'page',
    title: 'Page',
    open: true,
    options: ['url', 'html', 'fullPage', 'fullPageMaxHeight', 'selector', 'clip'],
  },
  {
    id: 'viewport',
    title: 'Viewport & device',
    open: true,
    options: ['device', 'width', 'height', 'scale', 'mobile', 'darkMode', 'reducedMotion', 'timezone', 'locale'],
  },
  {
    id: 'output',
    title: 'Output',
    open: true,
    options: ['format', 'quality', 'omitBackground', 'paper', 'landscape', 'printBackground', 'margin'],
  },
  {
    id: 'waits',
    title: 'Waits',
    open: false,
    options: ['waitUntil', 'waitForSelector', 'delay', 'timeout', 'bestAttempt', 'settle'],
  },
  {
    id: 'changes',
    title: 'Page changes',
    open: false,
    options: ['hide', 'remove', 'css', 'click', 'hideCookieBanners'],
  },
  {
    id: 'network',
    title: 'Network',
    open: false,
    options: ['blockResources', 'blockUrls', 'headers', 'cookies', 'userAgent', 'auth'],
  },
  { id: 'access', title: 'Access', open: false, options: ['token', 'expires', 'signature'] },
  { id: 'more', title: 'More', open: false, options: [] },
];

/** The section an option is shown in. */
export function groupOf(option: string): string {
  return GROUPS.find((g) => g.options.includes(option))?.id ?? GROUPS[GROUPS.length - 1]!.id;
}

export interface PlaygroundOptions {
  /** What the service asks of a caller, so the page can say how to get in. */
  access: { token: boolean; signedUrls: boolean };
}

/** The page may only load its own script and style, talk to this service, and show blob: images. */
const HEADERS = {
  'content-security-policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** JSON for a `<script type="application/json">`: no `<` can close the element early. */
const inertJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

export function registerPlayground(app: FastifyInstance, opts: PlaygroundOptions): void {
  const config = { groups: GROUPS, access: opts.access };
  const html = PLAYGROUND_HTML.replace('%CONFIG%', () => inertJson(config));
  const send = (reply: FastifyReply, type: string, body: string) => reply.headers(HEADERS).type(type).send(body);
  app.get('/playground', async (_request, reply) => send(reply, 'text/html; charset=utf-8', html));
  app.get('/playground.js', async (_request, reply) =>
    send(reply, 'text/javascript; charset=utf-8', PLAYGROUND_SCRIPT),
  );
  app.get('/playground.css', async (_request, reply) => send(reply, 'text/css; charset=utf-8', PLAYGROUND_STYLE));
}
