// The invariants the soak checks, their counts, and the table it prints. The witness is LINE (the
// emulator's ledger, message log and the answers it gave); kagiya's store is read directly (never
// through the proxy the harness cuts) to know what kagiya tracks.

/** Name and meaning of each invariant, in table order (docs/development.md explains each). */
export const INVARIANTS = [
  ["cap-30", "never more than 30 valid v2.1 tokens per channel at LINE, and no issuance refused at the cap"],
  ["tracked-or-orphan", "every token valid at LINE is tracked by kagiya, or an orphan after the next reconcile"],
  ["reads-served", "no token read fails while a valid token is in the store and the store answers"],
  ["reads-in-outage", "store down: a process still serves the valid token it holds (key accepted < 4 min ago)"],
  ["one-issuance-per-refresh", "each refresh point leads to one issuance; extra ones only after a kill, lost answer or outage"],
  ["superseded-revoked", "every superseded token is revoked at LINE within grace + one maintenance interval"],
  ["webhooks-handled", "every webhook event answered 200 is handled (its reply is at LINE)"],
  ["refresh-tokens", "no rotated refresh token lost or used twice"],
] as const;

export type InvariantName = (typeof INVARIANTS)[number][0];

interface Row {
  checks: number;
  violations: number;
  /** The first few violations, for the report (no secrets: key IDs and channel IDs only). */
  details: string[];
  notes: Map<string, number>;
  /** True when no credential kind of the run can exercise it. */
  notApplicable: boolean;
}

/** Counts checks and violations per invariant. */
export class InvariantBook {
  readonly #rows = new Map<InvariantName, Row>();

  constructor() {
    for (const [name] of INVARIANTS) this.#rows.set(name, { checks: 0, violations: 0, details: [], notes: new Map(), notApplicable: false });
  }

  /** One check: passes when `ok`; otherwise a violation described by `detail()`. */
  check(name: InvariantName, ok: boolean, detail: () => string): boolean {
    const row = this.#rows.get(name)!;
    row.checks++;
    if (!ok) {
      row.violations++;
      if (row.details.length < 20) row.details.push(detail());
    }
    return ok;
  }

  /** Counts something worth showing beside an invariant (duplicates, explained extras, …). */
  note(name: InvariantName, what: string, n = 1): void {
    const notes = this.#rows.get(name)!.notes;
    notes.set(what, (notes.get(what) ?? 0) + n);
  }

  notApplicable(name: InvariantName): void {
    this.#rows.get(name)!.notApplicable = true;
  }

  get(name: InvariantName): Readonly<Row> {
    return this.#rows.get(name)!;
  }

  get violations(): number {
    let n = 0;
    for (const r of this.#rows.values()) n += r.violations;
    return n;
  }

  /** The table: name, checks, violations, notes. */
  table(): string {
    const lines = INVARIANTS.map(([name]) => {
      const r = this.#rows.get(name)!;
      const notes = [...r.notes].map(([k, v]) => `${k} ${v}`).join(", ");
      return [name, r.notApplicable ? "n/a" : String(r.checks), r.notApplicable ? "n/a" : String(r.violations), r.notApplicable ? "no credential kind with refresh tokens in this run" : notes];
    });
    const head = ["invariant", "checks", "violations", "notes"];
    const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const fmt = (cells: string[]) => cells.map((c, i) => (i === 1 || i === 2 ? c.padStart(w[i]!) : i === 3 ? c : c.padEnd(w[i]!))).join("  ").trimEnd();
    return [fmt(head), fmt(w.map((n) => "-".repeat(n))), ...lines.map(fmt)].join("\n");
  }

  /** Every violation detail, one per line, prefixed by the invariant. */
  details(): string[] {
    const out: string[] = [];
    for (const [name] of INVARIANTS) for (const d of this.#rows.get(name)!.details) out.push(`${name}: ${d}`);
    return out;
  }
}
