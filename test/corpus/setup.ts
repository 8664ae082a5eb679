/**
 * One corpus server and one service (one Chromium) for a test file: the service lets the corpus's
 * four loopback origins through its egress guard and trusts the corpus's test certificate by its
 * public-key hash (TRUST_SPKI), as a production service never does.
 */
import type request from 'supertest';
import { afterAll, beforeAll } from 'vitest';
import { capture, shutdownClean, startService, type TestService } from '../helpers/service.js';
import { startCorpus, type Corpus } from './server.js';

export interface CorpusRun {
  corpus: Corpus;
  svc: TestService;
  /** GET / with these options; the body is kept as bytes. */
  get(query: Record<string, string | number | boolean | string[]>): request.Test;
  close(): Promise<void>;
}

export async function startCorpusRun(env: Record<string, string> = {}): Promise<CorpusRun> {
  const corpus = await startCorpus();
  const svc = await startService({ EGRESS_ALLOW: corpus.allow, TRUST_SPKI: corpus.cert.spki, ...env });
  return {
    corpus,
    svc,
    get: (query) => capture(svc, query),
    async close() {
      try {
        await shutdownClean(svc);
      } finally {
        await corpus.close();
      }
    },
  };
}

/** A corpus run for the whole test file: started before its tests, closed (and checked for leftovers) after. */
export function useCorpusRun(env: Record<string, string> = {}): CorpusRun {
  const run = {} as CorpusRun;
  beforeAll(async () => {
    Object.assign(run, await startCorpusRun(env));
  }, 120_000);
  afterAll(async () => {
    await run.close?.();
  });
  return run;
}
