/**
 * Warm tabs: a capture's tab kept, scrubbed, for the next capture of the same site.
 *
 * A fresh browser context costs a fresh renderer process (started off the request path, but paid in
 * CPU). Chromium ties a renderer to one context and one site, so a tab
 * kept in its context, on a blank document of the same process, serves the next capture of that site
 * without starting one. What the previous capture left must not reach the next: after each capture
 * the tab is scrubbed (own-tab.ts, OwnTab.scrub) and only then offered again; a tab that cannot be
 * scrubbed in time, whose capture failed, or whose options left state on it
 * (src/capture/render-page.ts, warmKeyFor), is closed with its context as before.
 */
import { withTimeout } from '../deadline.js';
import type { OwnTab } from './own-tab.js';

/**
 * How long a capture waits for its site's tab to be scrubbed before it takes a fresh context instead.
 * A fresh context costs a new renderer process, about a third of a capture's CPU, where a scrub under
 * load takes tens to a few hundred ms; one still running after this is most likely stuck on its page.
 */
const SCRUB_WAIT_MS = 1000;

/** The longest streak of kept tabs before the spare is given up, per kept tab (WarmTabs.noteServed). */
const SPARE_WINDOW_MAX = 16;

/** A kept tab, and whether its scrub succeeded (pending while it runs). */
interface Kept {
  site: string;
  tab: OwnTab;
  scrubbed: Promise<boolean>;
  /** The scrub succeeded: the tab can be handed out at once. */
  ready: boolean;
  /** A capture is waiting for this tab's scrub (no other capture waits for the same one). */
  claimed: boolean;
}

/**
 * The kept tabs, by site, at most `capacity` in all: the least recently kept goes first. A tab is
 * kept the moment its capture ends, while it is still being scrubbed, so that the next capture of the
 * site, which may come at once, waits for the scrub rather than starting a renderer; it is handed out
 * only once scrubbed. A tab is taken out while a capture uses it, so no two captures share one.
 */
export class WarmTabs {
  /** Least recently kept first. */
  private readonly kept: Kept[] = [];
  /** The sites of the last captures, oldest first. */
  private readonly recent: string[] = [];
  /** Captures in a row a kept tab served. */
  private warmStreak = 0;
  /** A streak of this many gives the spare tab up (spareWanted). */
  private spareWindow: number;

  constructor(private readonly capacity: number) {
    this.spareWindow = Math.max(1, 2 * capacity);
  }

  /**
   * Notes a capture of `site`; true when a tab kept after it would likely serve again: the site came
   * up within the last 2 × capacity captures. A site seen once, or long ago, is not worth the scrub
   * (a workload of ever new sites pays nothing for warm tabs).
   */
  noteCapture(site: string): boolean {
    const recurring = this.recent.includes(site);
    this.recent.push(site);
    if (this.recent.length > 2 * this.capacity) this.recent.shift();
    return recurring && this.capacity > 0;
  }

  /** Notes whether a capture was served by a kept tab (else by a fresh one). */
  noteServed(warm: boolean): void {
    if (warm) {
      this.warmStreak += 1;
      return;
    }
    // A fresh tab wanted after a streak long enough to give the spare up: this workload needs one more
    // often than the window said, so the next streak must be twice as long (up to SPARE_WINDOW_MAX).
    if (!this.spareWanted) {
      this.spareWindow = Math.min(2 * this.spareWindow, SPARE_WINDOW_MAX * Math.max(1, this.capacity));
    }
    this.warmStreak = 0;
  }

  /**
   * Whether a fresh tab is worth keeping ready (browser.ts, keepSpare): not once the last
   * 2 × capacity captures were all served by kept tabs. Its renderer holds ~17 MB that such a
   * workload (one site over and over) never uses; the next capture that needs a fresh tab opens one
   * itself, and the spare comes back after it. Each time that happens the streak that gives the spare
   * up doubles, so a workload of one site with now and then another keeps its spare.
   */
  get spareWanted(): boolean {
    return this.warmStreak < this.spareWindow;
  }

  get size(): number {
    return this.kept.length;
  }

  /** Takes every kept tab out (scrubbed or not), for the caller to close. */
  drain(): OwnTab[] {
    return this.kept.splice(0).map((k) => k.tab);
  }

  /**
   * A kept tab for `site`, once scrubbed: one already scrubbed if there is one; else the capture waits,
   * at most `patienceMs`, for the scrub of the site's tab that began first and no other capture waits
   * for. Undefined if there is none, or none scrubbed soundly in time (a tab whose scrub is still
   * running stays kept, for a later capture).
   */
  async take(site: string, patienceMs = SCRUB_WAIT_MS): Promise<OwnTab | undefined> {
    const until = Date.now() + patienceMs;
    for (;;) {
      const ofSite = this.kept.filter((k) => k.site === site);
      const ready = ofSite.filter((k) => k.ready).pop();
      if (ready) {
        this.kept.splice(this.kept.indexOf(ready), 1);
        if (ready.tab.usable) return ready.tab;
        void ready.tab.close();
        continue;
      }
      const pending = ofSite.find((k) => !k.claimed);
      if (!pending) return undefined;
      pending.claimed = true;
      // `scrubbed` never rejects: a rejection here is the wait running out.
      const settled = await withTimeout(until - Date.now(), 'a scrub', pending.scrubbed).then(
        () => true,
        () => false,
      );
      pending.claimed = false;
      // Settled: the tab is ready now (keep() marked it first), or it was given up; either way, look again.
      if (!settled) return undefined;
    }
  }

  /**
   * Keeps `tab` for `site` while `scrubbed` says whether it may be handed out; returns the tabs pushed
   * out, for the caller to close. A failed scrub takes the tab out again (closed by whoever finds it).
   */
  keep(site: string, tab: OwnTab, scrubbed: Promise<boolean>): OwnTab[] {
    if (this.capacity <= 0) return [tab];
    const entry: Kept = { site, tab, scrubbed, ready: false, claimed: false };
    this.kept.push(entry);
    void scrubbed.then((ok) => {
      entry.ready = ok;
      const at = this.kept.indexOf(entry);
      if (!ok && at !== -1) {
        this.kept.splice(at, 1);
        void tab.close();
      }
    });
    return this.kept.splice(0, Math.max(0, this.kept.length - this.capacity)).map((k) => k.tab);
  }
}
