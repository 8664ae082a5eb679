/**
 * Maps anything thrown while handling a request to the JSON error format. Validation errors name the
 * field; HttpErrors carry their own status; a client that left gets nothing; anything else is our
 * bug, logged, and answered 500 without internals.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ClientGone, HttpError, type ErrorBody } from '../errors.js';
import { OptionsSchema } from '../options.js';

/** The client is gone: its connection closed before we answered. */
export const isClientGone = (reply: FastifyReply) => reply.raw.destroyed || Boolean(reply.raw.socket?.destroyed);

interface AjvIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** The option named by the path, if the issue is inside one (`/headers` for a bad header name). */
const optionAt = (issue: AjvIssue) => issue.instancePath.split('/')[1];

function fieldOf(issue: AjvIssue): string {
  if (issue.keyword === 'additionalProperties') return optionAt(issue) || String(issue.params.additionalProperty);
  // inside an option (`/cookies/0` without its `value`), the option; at the top, the missing one
  if (issue.keyword === 'required') return optionAt(issue) || String(issue.params.missingProperty);
  // the option, not the place inside it: /blockResources/0 and /headers/Host both name their option
  return optionAt(issue) || 'query';
}

/** The values an option takes when it is a list of names (format, device…), from the schema. */
function allowedValues(field: string): string[] | undefined {
  const schema = (OptionsSchema.properties as Record<string, { anyOf?: Array<{ const?: unknown }> }>)[field];
  const values = schema?.anyOf?.map((branch) => branch.const);
  return values?.every((v) => typeof v === 'string') ? (values as string[]) : undefined;
}

function messageOf(issue: AjvIssue, field: string): string {
  const allowed = allowedValues(field);
  if (allowed && (issue.keyword === 'const' || issue.keyword === 'anyOf')) {
    const list =
      allowed.length <= 12 ? allowed.join(', ') : `${allowed.slice(0, 6).join(', ')}… (all in /openapi.json)`;
    return `${field} must be one of: ${list}`;
  }
  if (issue.keyword === 'additionalProperties') {
    const name = String(issue.params.additionalProperty);
    return optionAt(issue) ? `${field} has an invalid name "${name}"` : `unknown option "${field}"`;
  }
  if (issue.keyword === 'anyOf' || issue.keyword === 'union') return `${field} has an unsupported value`;
  return `${field} ${issue.message ?? 'is invalid'}`;
}

export function toErrorResponse(err: unknown): { status: number; body: ErrorBody; headers: Record<string, string> } {
  if (err instanceof HttpError) return { status: err.statusCode, body: err.body, headers: err.headers };
  const fe = err as FastifyError & { validation?: AjvIssue[] };
  if (fe.validation?.length) {
    // A union's branches each report an error; the first one names the field well enough.
    const issue = fe.validation[0]!;
    const field = fieldOf(issue);
    return { status: 400, body: { error: 'invalid_option', field, message: messageOf(issue, field) }, headers: {} };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: { error: 'bad_request', message: fe.message }, headers: {} };
  }
  return { status: 500, body: { error: 'internal', message: 'internal error' }, headers: {} };
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof ClientGone || isClientGone(reply)) {
    request.log.info('client went away');
    reply.hijack();
    reply.raw.destroy();
    return;
  }
  const { status, body, headers } = toErrorResponse(err);
  // A 500 is our bug: the stack is wanted. A 502/503/504 is the outside (the page, the load, the deadline): one line.
  if (status === 500) request.log.error({ err }, 'request failed');
  else if (status >= 500)
    request.log.warn(
      { status, error: body.error, reason: body.reason, phase: body.phase, message: body.message },
      'request failed',
    );
  else request.log.info({ status, error: body.error, field: body.field, reason: body.reason }, 'request refused');
  void reply.code(status).headers(headers).type('application/json; charset=utf-8').send(body);
}

/**
 * A request node's HTTP parser refused before any route saw it (fastify's clientErrorHandler): not
 * well-formed HTTP (400: a body longer than its Content-Length, for one), too slow to arrive (408), or
 * headers too large (431). Answered in the same JSON as every other error, and the connection closed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'the request took too long to arrive']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'the request headers are too large']
        : [400, 'the request is not well-formed HTTP'];
  const body = JSON.stringify({ error: 'bad_request', message } satisfies ErrorBody);
  // Not into the middle of an answer already under way on this connection (a pipelined bad request).
  const answering = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (socket.writable && !answering)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy(err);
}
