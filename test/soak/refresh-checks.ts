// The refresh-token invariant, for LINE WORKS apps on the `refresh-token` policy: no refresh token
// is taken by LINE WORKS twice (rotation on), none is sent again after it was spent unless a kill or
// an outage lost its successor, and the grant in kagiya's store holds the newest refresh token LINE
// WORKS issued to the app, unless a kill or an outage lost it (then the app must recover: by an
// assertion, as kagiya does after its spent refresh token is refused). LINE's side is the
// emulator's ledger, watched per use (test/soak/emulator.ts); kagiya's side is the grant in its
// store, read directly and opened with the registry.
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer } from "../../src/store/sealed.ts";
import type { Store } from "../../src/store/types.ts";
import type { RefreshUse, SoakEmulator } from "./emulator.ts";
import type { InvariantBook } from "./invariants.ts";
import type { Disturbance } from "./ledger-checks.ts";
import type { SoakCredential } from "./world.ts";

/** What may lose a rotated refresh token (the answer taken, the store write never made). */
export const LOSSES = new Set<Disturbance["what"]>(["kill", "cli-kill", "outage", "plant"]);
/**
 * Real ms a request or a write may be in flight: a stored grant may lag LINE WORKS by that without a
 * cause, and a kill that long before LINE WORKS took a token may still have lost its answer (the
 * soak's latency fault holds a request up to 400 ms before it is served).
 */
export const IN_FLIGHT_MS = 1000;

/** "a kill", "an outage": a loss named in a note. */
export const aLoss = (what: string): string => `${/^[aeiou]/.test(what) ? "an" : "a"} ${what}`;

interface AppFacts {
  cred: SoakCredential;
  rotation: boolean;
  /** Real time each refresh token was first accepted. */
  acceptedAt: Map<string, number>;
  /** The newest refresh token at LINE the store was found behind (explained), until it catches up. */
  behind: string | null;
}

/** Checks the refresh-token invariant after every step (see the file comment). */
export class RefreshChecks {
  readonly #emu: SoakEmulator;
  readonly #store: Store;
  readonly #book: InvariantBook;
  readonly #disturbances: readonly Disturbance[];
  readonly #apps: AppFacts[];
  #registry: ChannelRegistry | undefined;
  readonly #masterKey: string;
  /** How far into the emulator's list of uses the checks have got. */
  #seen = 0;

  constructor(emu: SoakEmulator, store: Store, masterKey: string, book: InvariantBook, credentials: readonly SoakCredential[], disturbances: readonly Disturbance[]) {
    this.#emu = emu;
    this.#store = store;
    this.#masterKey = masterKey;
    this.#book = book;
    this.#disturbances = disturbances;
    this.#apps = credentials
      .filter((c) => c.works?.refresh === "refresh-token")
      .map((cred) => ({ cred, rotation: cred.works!.rotation, acceptedAt: new Map(), behind: null }));
  }

  /** Whether the run has anything for the invariant to check. */
  get applicable(): boolean {
    return this.#apps.length > 0;
  }

  #lossBetween(from: number, to: number): Disturbance | undefined {
    return this.#disturbances.find((d) => LOSSES.has(d.what) && d.realAt >= from && d.realAt <= to);
  }

  /** For a violation's message: the last loss before a time, which a reader may weigh. */
  #lastLossBefore(at: number): string {
    const d = this.#disturbances.filter((x) => LOSSES.has(x.what) && x.realAt < at).at(-1);
    return d === undefined ? "" : ` (the last ${d.what} before it: ${((at - d.realAt) / 1000).toFixed(1)} s before its use)`;
  }

  async check(): Promise<void> {
    const uses = this.#emu.refreshUses.slice(this.#seen);
    this.#seen += uses.length;
    for (const use of uses) this.#checkUse(use);
    for (const app of this.#apps) await this.#checkStored(app);
  }

  /** (a) Used once: a rotated refresh token is accepted once; sent again only after a loss. */
  #checkUse(use: RefreshUse): void {
    const app = this.#apps.find((a) => a.cred.clientId === use.clientId);
    if (app === undefined) return;
    this.#book.note("refresh-tokens", use.accepted ? "refreshes accepted" : "refreshes refused");
    if (!app.rotation) return; // rotation off: the same refresh token serves every refresh
    const spentAt = app.acceptedAt.get(use.token);
    if (use.accepted) {
      this.#book.check("refresh-tokens", spentAt === undefined, () => `app ${app.cred.id}: a refresh token LINE WORKS had already taken was accepted again`);
      if (spentAt === undefined) app.acceptedAt.set(use.token, use.realAt);
      return;
    }
    // The loss may come before LINE WORKS took the token: a process killed while its request was
    // held (the latency fault delays a request LINE WORKS has received, then serves it).
    const loss = spentAt === undefined ? undefined : this.#lossBetween(spentAt - IN_FLIGHT_MS, use.realAt);
    if (loss) {
      this.#book.note("refresh-tokens", `spent token sent again once after ${aLoss(loss.what)} (refused)`);
      return;
    }
    this.#book.check("refresh-tokens", false, () => spentAt === undefined
      ? `app ${app.cred.id}: a refresh token never taken was refused`
      : `app ${app.cred.id}: a spent refresh token was sent again ${Math.round((use.realAt - spentAt) / 1000)} s (real) after its use, with no kill or outage between${this.#lastLossBefore(spentAt)}`);
  }

  /** (b) Not lost: the stored grant holds the newest refresh token LINE WORKS issued to the app. */
  async #checkStored(app: AppFacts): Promise<void> {
    const look = async () => {
      const issued = this.#emu.refreshIssued.get(app.cred.clientId!) ?? [];
      const newest = issued.at(-1);
      const grant = await this.#store.getGrant(app.cred.id);
      this.#registry ??= await ChannelRegistry.open(this.#store, new Sealer(MasterKey.parse(this.#masterKey)));
      const stored = grant === null ? null : this.#registry.openGrant(grant).refreshToken;
      return { newest, stored };
    };
    let { newest, stored } = await look();
    if (newest === undefined) return; // no token yet
    if (stored !== newest.record.token) {
      if (this.#lossBetween(newest.realAt - IN_FLIGHT_MS, Date.now())) {
        if (app.behind !== newest.record.token) this.#book.note("refresh-tokens", "stored grant behind LINE WORKS after a kill or outage");
        app.behind = newest.record.token;
        return;
      }
      // A refresh may be between LINE WORKS's answer and the store write right now: look again.
      await new Promise((r) => setTimeout(r, IN_FLIGHT_MS));
      ({ newest, stored } = await look());
    }
    const ok = newest !== undefined && stored === newest.record.token;
    if (ok && app.behind !== null) {
      // Caught up after a loss: by an assertion once the spent token was refused, or a late write.
      this.#book.note("refresh-tokens", newest!.record.grant === "jwt-bearer" ? "recovered by assertion" : "caught up by a late write");
      app.behind = null;
    }
    const position = stored === null ? -1 : (this.#emu.refreshIssued.get(app.cred.clientId!) ?? []).findIndex((i) => i.record.token === stored);
    this.#book.check("refresh-tokens", ok, () => `app ${app.cred.id}: the stored grant holds ${stored === null ? "no refresh token" : position === -1 ? "a refresh token LINE WORKS never issued" : `refresh token #${position + 1}`}, LINE WORKS's newest is #${(this.#emu.refreshIssued.get(app.cred.clientId!) ?? []).length}, with no kill or outage since it was issued`);
  }
}
