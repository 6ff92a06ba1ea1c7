// The refresh-token invariant for OAuth 2.0 grants, with the provider as the witness (what it
// answered at the token endpoint, seen at its proxy, and RFC 7662 introspection at the provider
// itself): no refresh token is taken twice, none is presented again after it was spent unless a
// kill, an outage or a lost answer came between (oidc-provider then refuses it and, detecting the
// reuse, revokes the whole grant); the grant in kagiya's store holds the newest refresh token the
// provider issued for it, unless such a loss came after that one was issued; and a grant is
// `reauth_required` only when the provider really ended it (its newest refresh token no longer
// active). A grant the provider ended is logged in again, as its user would, and must then hold
// the new login's tokens ("recovered by a new login").
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer } from "../../src/store/sealed.ts";
import type { Store } from "../../src/store/types.ts";
import type { InvariantBook } from "./invariants.ts";
import type { Disturbance } from "./ledger-checks.ts";
import type { ProviderIssue, ProviderUse, SoakOidc } from "./oauth.ts";
import { aLoss, IN_FLIGHT_MS, LOSSES } from "./refresh-checks.ts";
import type { SoakCredential } from "./world.ts";

interface GrantFacts {
  cred: SoakCredential;
  /** Refresh tokens issued for it, oldest first (as their owner became known). */
  issued: ProviderIssue[];
  /** The newest issued token the store was found behind (explained by a loss), until it catches up. */
  behind: string | null;
  /** The provider ended the grant (confirmed); cleared by a new login. */
  ended: boolean;
  /** A new login under way. */
  login: Promise<void> | null;
}

/** Checks the refresh-token invariant for the run's OAuth grants after every step. */
export class OAuthRefreshChecks {
  readonly #oidc: SoakOidc;
  readonly #store: Store;
  readonly #book: InvariantBook;
  readonly #disturbances: readonly Disturbance[];
  readonly #masterKey: string;
  readonly #grants = new Map<string, GrantFacts>();
  readonly #login: (id: string) => Promise<void>;
  #registry: ChannelRegistry | undefined;
  /** Real time each refresh token was first taken by the provider. */
  readonly #acceptedAt = new Map<string, number>();
  /** Real time each spent refresh token was first presented again (the provider then ends its grant). */
  readonly #replayedAt = new Map<string, number>();
  #usesSeen = 0;
  #pendingUses: ProviderUse[] = [];
  #issuesSeen = 0;
  #pendingIssues: ProviderIssue[] = [];

  /** `login` logs the grant in again (`kagiya oauth login`), for grants the provider ended. */
  constructor(oidc: SoakOidc, store: Store, masterKey: string, book: InvariantBook, credentials: readonly SoakCredential[], disturbances: readonly Disturbance[], login: (id: string) => Promise<void>) {
    this.#oidc = oidc;
    this.#store = store;
    this.#masterKey = masterKey;
    this.#book = book;
    this.#disturbances = disturbances;
    this.#login = login;
    for (const cred of credentials) if (cred.kind === "oauth2") this.#grants.set(cred.id, { cred, issued: [], behind: null, ended: false, login: null });
  }

  get applicable(): boolean {
    return this.#grants.size > 0;
  }

  async #registryOf(): Promise<ChannelRegistry> {
    return (this.#registry ??= await ChannelRegistry.open(this.#store, new Sealer(MasterKey.parse(this.#masterKey))));
  }

  /** The refresh token in the store's grant, and the grant's status (null: none stored). */
  async stored(id: string): Promise<{ token: string; status: string } | null> {
    const grant = await this.#store.getGrant(id);
    if (grant === null) return null;
    return { token: (await this.#registryOf()).openGrant(grant).refreshToken, status: grant.status };
  }

  /** Records `id`'s login (the chain its stored refresh token descends from). */
  async claim(id: string): Promise<void> {
    const s = await this.stored(id);
    if (s === null) throw new Error(`no grant stored for ${id} after its login`);
    this.#oidc.claim(id, s.token);
  }

  #lossBetween(from: number, to: number): string | undefined {
    const d = this.#disturbances.find((x) => LOSSES.has(x.what) && x.realAt >= from && x.realAt <= to);
    if (d) return d.what;
    return this.#oidc.losses.some((t) => t >= from && t <= to) ? "lost answer" : undefined;
  }

  /** One round; `final`: tokens whose login is still unknown count as never issued. */
  async check(final = false): Promise<void> {
    this.#ingestIssues();
    const uses = [...this.#pendingUses, ...this.#oidc.uses.slice(this.#usesSeen)];
    this.#usesSeen = this.#oidc.uses.length;
    this.#pendingUses = [];
    for (const use of uses) {
      const id = this.#oidc.owner(use.token);
      if (id === undefined && !final) this.#pendingUses.push(use);
      else this.#checkUse(use, id);
    }
    for (const g of this.#grants.values()) await this.#checkStored(g, final);
  }

  /** Files the provider's new refresh tokens under their grants (those of a login not claimed yet wait). */
  #ingestIssues(): void {
    const all = [...this.#oidc.issued.values()];
    const issues = [...this.#pendingIssues, ...all.slice(this.#issuesSeen)];
    this.#issuesSeen = all.length;
    this.#pendingIssues = [];
    for (const issue of issues) {
      const id = this.#oidc.owner(issue.token);
      if (id === undefined) this.#pendingIssues.push(issue);
      else this.#grants.get(id)?.issued.push(issue);
    }
  }

  /** Waits for logins under way (the end of the run). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#grants.values()].map((g) => g.login));
  }

  #checkUse(use: ProviderUse, id: string | undefined): void {
    const book = this.#book;
    if (id === undefined) {
      book.check("refresh-tokens", false, () => `a refresh token no login of the run led to was presented to the OAuth provider (${use.accepted ? "taken" : "refused"})`);
      return;
    }
    book.note("refresh-tokens", use.accepted ? "OAuth refreshes taken" : "OAuth refreshes refused");
    const spentAt = this.#acceptedAt.get(use.token);
    if (use.accepted) {
      book.check("refresh-tokens", spentAt === undefined, () => `grant ${id}: a refresh token the OAuth provider had already taken was taken again`);
      if (spentAt === undefined) this.#acceptedAt.set(use.token, use.realAt);
      return;
    }
    if (spentAt !== undefined && !this.#replayedAt.has(use.token)) this.#replayedAt.set(use.token, use.realAt);
    // A token never taken is refused once an older one of its chain was replayed: the provider ended
    // the whole grant then (judged where that replay is judged), and the newer token died with it.
    const replay = spentAt === undefined ? this.#replayedAncestor(use) : undefined;
    if (replay !== undefined) {
      book.note("refresh-tokens", "OAuth: a newer refresh token refused after the provider ended its grant on a replay");
      return;
    }
    // The loss may come just before the provider's answer: a process killed while its request was in flight.
    const loss = spentAt === undefined ? undefined : this.#lossBetween(spentAt - IN_FLIGHT_MS, use.realAt);
    if (loss) {
      book.note("refresh-tokens", `OAuth: spent token sent again once after ${aLoss(loss)} (refused; the provider ends the grant)`);
      return;
    }
    book.check("refresh-tokens", false, () => spentAt === undefined
      ? `grant ${id}: a refresh token never taken was refused by the OAuth provider`
      : `grant ${id}: a spent refresh token was sent again ${Math.round((use.realAt - spentAt) / 1000)} s (real) after its use, with no kill, outage or lost answer between`);
  }

  /** An older token of `use`'s chain presented again after it was spent, before `use`; undefined: none. */
  #replayedAncestor(use: ProviderUse): string | undefined {
    for (let t = this.#oidc.issued.get(use.token)?.parent ?? null; t !== null; t = this.#oidc.issued.get(t)?.parent ?? null) {
      const at = this.#replayedAt.get(t);
      if (at !== undefined && at <= use.realAt) return t;
    }
    return undefined;
  }

  async #checkStored(g: GrantFacts, final: boolean): Promise<void> {
    const id = g.cred.id;
    if (g.login !== null) return; // logging in again: the store is changing hands
    let s = await this.stored(id);
    let newest = g.issued.at(-1);
    if (newest === undefined) return; // not logged in yet
    if (s === null) {
      this.#book.check("refresh-tokens", false, () => `grant ${id}: no grant in the store after its login`);
      return;
    }
    let explained = false;
    if (s.token !== newest.token) {
      if (this.#lossBetween(newest.realAt - IN_FLIGHT_MS, Date.now())) {
        if (g.behind !== newest.token) this.#book.note("refresh-tokens", "OAuth: stored grant behind the provider after a kill, outage or lost answer");
        g.behind = newest.token;
        explained = true;
      } else {
        // A refresh may be between the provider's answer and the store write right now: look again.
        await new Promise((r) => setTimeout(r, IN_FLIGHT_MS));
        this.#ingestIssues();
        s = (await this.stored(id)) ?? s;
        newest = g.issued.at(-1)!;
      }
    }
    if (!explained) {
      const ok = s.token === newest.token;
      if (ok && (g.behind !== null || g.ended) && s.status === "active") {
        this.#book.note("refresh-tokens", g.ended ? "OAuth: recovered by a new login" : "OAuth: caught up by a late write");
        g.behind = null;
        g.ended = false;
      }
      const position = g.issued.findIndex((i) => i.token === s.token);
      this.#book.check("refresh-tokens", ok, () => `grant ${id}: the stored grant holds ${position === -1 ? "a refresh token the provider never issued for it" : `refresh token #${position + 1}`}, the OAuth provider's newest is #${g.issued.length}, with no kill, outage or lost answer since it was issued`);
    }
    if (s.status !== "reauth_required") return;
    // Needs a new login: only if the provider really ended the grant (its newest refresh token is dead).
    const active = await this.#oidc.active(newest.token).catch(() => null);
    if (active === null) return; // the provider did not answer: look next time
    this.#book.check("refresh-tokens", !active, () => `grant ${id}: reauth_required while the OAuth provider still honours its newest refresh token (#${g.issued.length})`);
    if (!g.ended) this.#book.note("refresh-tokens", "OAuth: grant reauth_required after the provider ended it");
    g.ended = true;
    if (final) return; // the run is over: no new login
    g.login = this.#login(id).then(() => this.claim(id)).finally(() => void (g.login = null)).catch(() => {});
  }
}
