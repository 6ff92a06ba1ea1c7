// The checks made against LINE's ledger after every step, for each v2.1 channel: the cap, tokens
// tracked or counted as orphans, one issuance per refresh point, superseded tokens revoked in time.
// LINE's side is the emulator's state, read in this process; kagiya's side is its store, read
// directly.
import { tokenState, type TokenRecord } from "../../src/emulator/state.ts";
import type { Store, TokenRow } from "../../src/store/types.ts";
import type { SoakEmulator } from "./emulator.ts";
import type { InvariantBook } from "./invariants.ts";
import { MAX_SKEW_MS } from "./schedule.ts";
import type { SoakCredential } from "./world.ts";

/** Calm steps a late revocation may take before it counts as a violation (scheduler lag under load). */
export const CALM_SLACK = 2;
/** Real ms a disturbance explains (a SIGKILLed holder's store lock lives 30 s of real time). */
export const DISTURBANCE_WINDOW_MS = 35_000;

/** Something that may explain an extra issuance or delay a revocation, at a real time. */
export interface Disturbance {
  realAt: number;
  what: "kill" | "cli-kill" | "outage" | "lost-answer" | "plant";
}

interface Lineage {
  generation: number;
  refreshAt: number;
}

interface Facts {
  classified: boolean;
  supersededChecked: boolean;
  supersededViolated: boolean;
  lateCalm: number;
  /** The newest listing this token was checked against (tracked-or-orphan). */
  listingChecked: number;
}

/** Maps emulator times to the real times the harness moved the clock at. */
export class Timeline {
  readonly #samples: Array<{ sim: number; real: number }> = [];

  mark(sim: number, real: number): void {
    this.#samples.push({ sim, real });
  }

  /** Real time the emulator's clock was at `sim` (to within one tick). */
  realOf(sim: number): number {
    let lo = 0;
    let hi = this.#samples.length - 1;
    if (hi < 0 || sim < this.#samples[0]!.sim) return this.#samples[0]?.real ?? 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#samples[mid]!.sim <= sim) lo = mid;
      else hi = mid - 1;
    }
    return this.#samples[lo]!.real;
  }
}

/** The state kept between steps for the ledger checks. */
export class LedgerChecks {
  readonly #emu: SoakEmulator;
  readonly #store: Store;
  readonly #book: InvariantBook;
  readonly #channels: SoakCredential[];
  readonly #intervalMs: number;
  readonly #timeline: Timeline;
  readonly #disturbances: Disturbance[];
  readonly #lineage = new Map<string, Map<string, Lineage>>();
  readonly #facts = new Map<string, Facts>();
  /** Extra issuances by what explained them. */
  readonly extras = new Map<string, number>();

  constructor(emu: SoakEmulator, store: Store, book: InvariantBook, channels: SoakCredential[], stepSeconds: number, timeline: Timeline, disturbances: Disturbance[]) {
    this.#emu = emu;
    this.#store = store;
    this.#book = book;
    this.#channels = channels.filter((c) => c.kind === "line-v2.1");
    // One maintenance interval: the scheduler looks at every channel at least hourly, and the
    // harness's clock moves a whole step at once.
    this.#intervalMs = Math.max(3600_000, stepSeconds * 1000);
    this.#timeline = timeline;
    this.#disturbances = disturbances;
  }

  #factsOf(channelId: string, keyId: string): Facts {
    const k = `${channelId}/${keyId}`;
    let f = this.#facts.get(k);
    if (!f) this.#facts.set(k, (f = { classified: false, supersededChecked: false, supersededViolated: false, lateCalm: 0, listingChecked: -Infinity }));
    return f;
  }

  /** Disturbances in the window before real time `real`. */
  disturbedAt(real: number): Disturbance | undefined {
    return this.#disturbances.find((d) => d.realAt <= real + 1000 && d.realAt >= real - DISTURBANCE_WINDOW_MS);
  }

  /**
   * Runs every ledger check once. `calm`: the step that just ended had no fault and no disturbance
   * within the window; `settledBefore`: emulator time before which issuances are classified.
   */
  async check(calm: boolean, settledBefore: number): Promise<void> {
    for (const ch of this.#channels) await this.#checkChannel(ch, calm, settledBefore);
  }

  async #checkChannel(ch: SoakCredential, calm: boolean, settledBefore: number): Promise<void> {
    const id = ch.id;
    const now = this.#emu.state.now();
    const ledger = (this.#emu.state.tokensByChannel.get(id) ?? []).filter((t) => t.kind === "v2.1");
    const valid = ledger.filter((t) => tokenState(t, now) === "valid");
    this.#book.check("cap-30", valid.length <= 30, () => `channel ${id}: ${valid.length} valid v2.1 tokens at LINE`);

    const [rows, current, audit] = await Promise.all([this.#store.listTokens(id), this.#store.getCurrent(id), this.#store.listAudit({ channelId: id, limit: 200 })]);
    let lineage = this.#lineage.get(id);
    if (!lineage) this.#lineage.set(id, (lineage = new Map()));
    for (const r of rows) if (r.generation >= 1 && r.accessToken !== null) lineage.set(r.keyId, { generation: r.generation, refreshAt: r.refreshAt });
    const rowOf = new Map<string, TokenRow>(rows.map((r) => [r.keyId, r]));
    const ledgerOf = new Map<string, TokenRecord>(ledger.map((t) => [t.keyId!, t]));

    // Tracked or an orphan, once a reconcile listed LINE's tokens after it was issued and finished.
    const reconciledAt = audit.filter((a) => a.action === "token.reconcile").map((a) => a.at);
    const listings = this.#emu.listings.get(id) ?? [];
    for (const t of valid) {
      const listing = listings.filter((l) => l > t.issuedAt && reconciledAt.some((a) => a >= l - MAX_SKEW_MS)).at(-1);
      if (listing === undefined) continue;
      const f = this.#factsOf(id, t.keyId!);
      if (f.listingChecked >= listing) continue;
      f.listingChecked = listing;
      const row = rowOf.get(t.keyId!);
      const tracked = row !== undefined && (row.state === "valid" || row.state === "superseded" || row.state === "orphan");
      this.#book.check("tracked-or-orphan", tracked, () => `channel ${id}: key ${t.keyId} valid at LINE, ${row ? `store says ${row.state}` : "not in the store"} after a reconcile`);
    }

    // Superseded tokens revoked within grace + one maintenance interval (lateness counted in calm
    // steps). Looked at every step: a token LINE counts as valid again later is late again.
    const byGeneration = new Map<number, string>();
    for (const [keyId, l] of lineage) byGeneration.set(l.generation, keyId);
    for (const [keyId, l] of lineage) {
      if (current.token?.keyId === keyId) continue;
      const successor = byGeneration.get(l.generation + 1);
      const mine = ledgerOf.get(keyId);
      const next = successor === undefined ? undefined : ledgerOf.get(successor);
      if (mine === undefined || next === undefined || mine.expiresAt <= now) continue;
      const deadline = next.issuedAt + ch.revokeGraceSeconds * 1000 + this.#intervalMs + MAX_SKEW_MS;
      if (now <= deadline) continue;
      const f = this.#factsOf(id, keyId);
      if (tokenState(mine, now) !== "valid") {
        f.lateCalm = 0;
        if (!f.supersededChecked) this.#book.check("superseded-revoked", true, () => "");
        f.supersededChecked = true;
        continue;
      }
      if (calm) f.lateCalm++;
      if (f.lateCalm > CALM_SLACK && !f.supersededViolated) {
        f.supersededChecked = true;
        f.supersededViolated = true;
        this.#book.check("superseded-revoked", false, () => `channel ${id}: key ${keyId} superseded at ${new Date(next.issuedAt).toISOString()} still valid at LINE ${Math.round((now - deadline) / 60_000)} min past its deadline`);
      }
    }

    // One issuance per refresh point; an extra one only near a kill, a lost answer or an outage.
    for (const t of ledger) {
      if (t.issuedAt >= settledBefore) continue;
      const f = this.#factsOf(id, t.keyId!);
      if (f.classified) continue;
      f.classified = true;
      const mine = lineage.get(t.keyId!);
      let extra: string | null = null;
      if (mine === undefined) extra = "never stored by kagiya";
      else if (mine.generation > 1) {
        const before = byGeneration.get(mine.generation - 1);
        const prev = before === undefined ? undefined : lineage.get(before);
        const prevAtLine = before === undefined ? undefined : ledgerOf.get(before);
        if (prev && prevAtLine && prevAtLine.revokedAt === null && prevAtLine.expiresAt > t.issuedAt && t.issuedAt + MAX_SKEW_MS + 1000 < prev.refreshAt) {
          extra = `issued ${Math.round((prev.refreshAt - t.issuedAt) / 1000)} s before its predecessor's refresh point`;
        }
      }
      if (extra === null) {
        this.#book.check("one-issuance-per-refresh", true, () => "");
        continue;
      }
      const cause = this.disturbedAt(this.#timeline.realOf(t.issuedAt));
      if (cause) {
        this.extras.set(cause.what, (this.extras.get(cause.what) ?? 0) + 1);
        this.#book.note("one-issuance-per-refresh", `extra after ${cause.what}`);
        continue; // not a refresh point's issuance: counted, not checked
      }
      this.#book.check("one-issuance-per-refresh", false, () => `channel ${id}: key ${t.keyId} at ${new Date(t.issuedAt).toISOString()} ${extra}, with no kill, lost answer or outage before it`);
    }
  }
}
