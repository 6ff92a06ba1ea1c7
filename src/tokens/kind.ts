/**
 * The port every credential kind implements, and the registry the engine looks kinds up in.
 *
 * The engine (this folder) owns what every credential shares: sealed storage, the memory cache,
 * single-flight across processes, refresh points, backoff, audit and metrics. A kind says only what
 * differs: how a token is obtained (and refreshed, if differently), whether and how it is revoked,
 * its lifetime policy, and, for providers that cap and list valid tokens (LINE v2.1), a ledger the
 * engine reconciles against. Kinds live in `src/kinds/<name>/`; `src/kinds/index.ts` registers them.
 *
 * @module
 */
import { InvalidInputError } from "../core/errors.ts";
import type { GrantSecret } from "../store/grants.ts";
import type { Channel } from "../store/registry.ts";
import { DEFAULT_CREDENTIAL_KIND, type TokenPolicyOverrides } from "../store/types.ts";
import type { TokenPolicy } from "./policy.ts";

export type { GrantSecret };

/** What a provider answered to a token request, validated. `accessToken` and `grant` are secrets. */
export interface ObtainedToken {
  accessToken: string;
  /** The provider's ID for this token (LINE's key_id), or one the kind derives from the token. */
  keyId: string;
  /** Seconds. */
  expiresIn: number;
  /**
   * The grant to keep from now on, when the answer carried one (a first refresh token, or a
   * rotated one), with the kind's data beside it. The engine stores it by compare-and-set on the
   * version it read before the call, before the access token is handed out. Absent: the stored
   * grant stays as it is (rotation off: the old refresh token is still the one to use).
   */
  grant?: GrantSecret;
}

/**
 * Whether a credential keeps a grant (a refresh token) in the store:
 * - `none`: it does not (LINE channels, LINE WORKS apps minting assertions);
 * - `optional`: the kind uses the grant when there is one and can start over without it
 *   (`obtain(…, null)`: LINE WORKS' `refresh-token` policy mints an assertion), which the engine
 *   does when the stored grant is refused or was never stored;
 * - `required`: only the grant can get a token (an OAuth authorization-code grant): when it is
 *   refused and nothing newer is stored, the credential needs a new login (ReauthRequiredError).
 */
export type GrantUse = "none" | "optional" | "required";

/**
 * A provider that caps how many tokens a credential may hold and lists the valid ones by ID
 * (LINE v2.1: 30 per channel, `GET /oauth2/v2.1/tokens/kid`). With a ledger the engine refuses to
 * ask past the cap, reconciles after an ambiguous failure, and records orphans.
 */
export interface KeyLedger {
  /** Valid tokens per credential, orphans included; the provider refuses one more. */
  readonly limit: number;
  /** How long an orphan (listed, never stored) is counted when its expiry is unknown, ms. */
  readonly orphanLifetimeMs: number;
  /** The IDs of the credential's tokens the provider holds valid. */
  validKeyIds(credential: Channel): Promise<string[]>;
  /** Whether a failure means the cap was reached (the provider refused a new token for it). */
  capReached(error: unknown): boolean;
}

/**
 * One kind of credential. Calls make one attempt each and throw the provider's errors as they are:
 * the engine classifies them (see `classifyFailure`) and backs off on its own clock.
 */
export interface CredentialKind {
  /** Registry name, stored with each credential (e.g. "line-v2.1"). */
  readonly name: string;
  /** One line for listings ("LINE channel access token v2.1"). */
  readonly description: string;
  /** Merges overrides over the kind's defaults, validates once and freezes (InvalidInputError on bad input). */
  resolvePolicy(overrides: TokenPolicyOverrides | undefined): TokenPolicy;
  /**
   * Obtains a new token. `policy.lifetimeSeconds` is what to ask for where the provider takes one.
   * `grant` is the credential's current grant, open (null when it has none, or it must start
   * over): for kinds whose {@link grantUse} is not `none`. A refused grant is reported by throwing
   * `InvalidGrantError` (./errors.ts).
   */
  obtain(credential: Channel, policy: TokenPolicy, grant: GrantSecret | null): Promise<ObtainedToken>;
  /** Replaces `current` when refreshing works differently from obtaining; else obtain() is used. `grant` as for obtain(). */
  refresh?(credential: Channel, current: { accessToken: string; keyId: string }, policy: TokenPolicy, grant: GrantSecret | null): Promise<ObtainedToken>;
  /** How credentials of this kind keep a grant (see {@link GrantUse}); absent: `none`. */
  grantUse?(credential: Channel): GrantUse;
  /** Revokes a token at the provider; absent when tokens cannot be revoked (they lapse at expiry). */
  revoke?(credential: Channel, accessToken: string): Promise<void>;
  /** Present when the provider caps and lists valid tokens. */
  readonly ledger?: KeyLedger;
}


/** Kinds by name. Built once per manager; a kind registered twice replaces the earlier one. */
export class KindRegistry {
  readonly #kinds = new Map<string, CredentialKind>();

  constructor(kinds: Iterable<CredentialKind>) {
    for (const k of kinds) this.#kinds.set(k.name, Object.freeze(k));
  }

  /** The kind named `name`; InvalidInputError `ERR_KIND_UNKNOWN` names the known ones otherwise. */
  get(name: string): CredentialKind {
    const k = this.#kinds.get(name);
    if (k === undefined) {
      throw new InvalidInputError(`unknown credential kind ${JSON.stringify(name.slice(0, 40))} (known: ${[...this.#kinds.keys()].join(", ")})`, { code: "ERR_KIND_UNKNOWN", field: "kind" });
    }
    return k;
  }

  /** Registered names. */
  names(): string[] {
    return [...this.#kinds.keys()];
  }
}

/** The kind a credential names. */
export function kindNameOf(credential: Pick<Channel, "kind">): string {
  return credential.kind || DEFAULT_CREDENTIAL_KIND;
}
