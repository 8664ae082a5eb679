/**
 * The fidelity harness (test/corpus/fidelity.ts): pages that finish after `load` are captured with the
 * defaults and must match a patient reference of the same page taken by the same service (at most 1 %
 * of pixels, no 64 × 64 tile over 5 %). `npm test` runs one page of each kind of lateness
 * (FIDELITY_SAMPLE); FIDELITY=all runs the whole corpus (as `npm run bench:fidelity` does, with its table).
 */
import { describe, expect, it } from 'vitest';
import { compareCase, FIDELITY_CASES, FIDELITY_SAMPLE } from './corpus/fidelity.js';
import { useCorpusRun } from './corpus/setup.js';

const run = useCorpusRun();
const cases =
  process.env.FIDELITY === 'all' ? FIDELITY_CASES : FIDELITY_CASES.filter((c) => FIDELITY_SAMPLE.includes(c.path));

describe('the default capture matches a patient one', () => {
  it.each(cases.map((c) => [c.path, c] as const))(
    '%s',
    async (_path, c) => {
      const result = await compareCase(run, c);
      const { share, worstTile, sizes } = result.difference;
      expect(
        result.matches,
        `${c.kind}: ${(share * 100).toFixed(2)} % differ, worst tile ${(worstTile * 100).toFixed(1)} % (${sizes})`,
      ).toBe(true);
    },
    60_000,
  );
});
