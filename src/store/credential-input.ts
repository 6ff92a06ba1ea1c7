/**
 * What a credential may be, checked before it reaches the store: IDs, kinds, token policies,
 * public settings and named secrets. The registry (./registry.ts) runs these on every write; the
 * CLI and the server use them on input of their own.
 *
 * @module
 */
import { InvalidInputError } from "../core/errors.ts";
import type { ChannelInput } from "./registry.ts";
import { DEFAULT_CREDENTIAL_KIND, type CredentialSettings, type TokenPolicyOverrides } from "./types.ts";

const MAX_LIFETIME_SECONDS = 30 * 24 * 3600;

/**
 * Throws {@link InvalidInputError} unless `channelId` is 1–20 ASCII digits (LINE channel IDs
 * are 10-digit numbers).
 *
 * @example
 * ```ts
 * validateChannelId("1234567890"); // ok
 * validateChannelId("../etc");     // throws ERR_INVALID_INPUT
 * ```
 */
export function validateChannelId(channelId: unknown): asserts channelId is string {
  if (typeof channelId !== "string" || !/^[0-9]{1,20}$/.test(channelId)) {
    const shown = typeof channelId === "string" ? JSON.stringify(channelId.slice(0, 40)) : typeof channelId;
    throw new InvalidInputError(`channel ID ${shown} is not valid: LINE channel IDs are numbers (digits only, e.g. 1234567890)`, {
      field: "channelId",
    });
  }
}

/**
 * Throws {@link InvalidInputError} unless `id` is a credential ID: 1–64 characters, letters,
 * digits, ".", "_" and "-", starting with a letter or digit. LINE channel IDs are credential IDs
 * too; credentials of LINE's own kinds are held to {@link validateChannelId} as well.
 *
 * @example
 * ```ts
 * validateCredentialId("works-billing"); // ok
 * validateCredentialId("../etc");        // throws ERR_INVALID_INPUT
 * ```
 */
export function validateCredentialId(id: unknown): asserts id is string {
  if (typeof id !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) {
    const shown = typeof id === "string" ? JSON.stringify(id.slice(0, 40)) : typeof id;
    throw new InvalidInputError(`credential ID ${shown} is not valid: 1 to 64 letters, digits, ".", "_" and "-", starting with a letter or digit`, {
      field: "channelId",
    });
  }
}

const LINE_CHANNEL_KINDS: ReadonlySet<string> = new Set([DEFAULT_CREDENTIAL_KIND, "line-stateless"]);

/**
 * Whether credentials of `kind` are LINE channels (digit IDs, a kid from the console, the channel
 * secret signing webhooks): LINE's own kinds, not LINE WORKS' or others.
 *
 * @example
 * ```ts
 * isLineChannelKind("line-stateless"); // true
 * isLineChannelKind("line-works");     // false
 * ```
 */
export function isLineChannelKind(kind: string): boolean {
  return LINE_CHANNEL_KINDS.has(kind);
}

/**
 * Validates token policy overrides: unknown fields and out-of-range values are refused with
 * {@link InvalidInputError}. Returns a copy holding only the fields that were set.
 *
 * @example
 * ```ts
 * validatePolicy({ lifetimeSeconds: 86400 }); // { lifetimeSeconds: 86400 }
 * ```
 */
export function validatePolicy(policy: unknown): TokenPolicyOverrides {
  if (policy === undefined || policy === null) return {};
  if (typeof policy !== "object" || Array.isArray(policy)) throw new InvalidInputError("token policy must be an object", { field: "policy" });
  const ranges: Record<keyof TokenPolicyOverrides, [number, number, boolean]> = {
    lifetimeSeconds: [60, MAX_LIFETIME_SECONDS, true],
    refreshMin: [0.05, 0.99, false],
    refreshMax: [0.05, 0.99, false],
    minRemainingSeconds: [0, MAX_LIFETIME_SECONDS, true],
    revokeGraceSeconds: [0, MAX_LIFETIME_SECONDS, true],
    maxLiveTokens: [1, 30, true],
  };
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(policy as Record<string, unknown>)) {
    if (value === undefined) continue;
    const range = ranges[name as keyof TokenPolicyOverrides];
    if (!range) throw new InvalidInputError(`unknown token policy field "${name}" (known: ${Object.keys(ranges).join(", ")})`, { field: `policy.${name}` });
    const [min, max, integer] = range;
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw new InvalidInputError(`token policy ${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}`, { field: `policy.${name}` });
    }
    out[name] = value;
  }
  if (out["refreshMin"] !== undefined && out["refreshMax"] !== undefined && out["refreshMin"] > out["refreshMax"]) {
    throw new InvalidInputError("token policy refreshMin must not exceed refreshMax", { field: "policy.refreshMin" });
  }
  return out as TokenPolicyOverrides;
}

/**
 * Throws {@link InvalidInputError} unless `kind` is a credential kind name: 1–32 lowercase
 * letters, digits, "." and "-". Which kinds exist is the engine's business.
 *
 * @example
 * ```ts
 * validateKind("line-v2.1"); // ok
 * validateKind("LINE v2");   // throws ERR_INVALID_INPUT
 * ```
 */
export function validateKind(kind: unknown): asserts kind is string {
  if (typeof kind !== "string" || !/^[a-z0-9.-]{1,32}$/.test(kind)) {
    const shown = typeof kind === "string" ? JSON.stringify(kind.slice(0, 40)) : typeof kind;
    throw new InvalidInputError(`credential kind ${shown} is not valid: 1 to 32 lowercase letters, digits, "." and "-" (e.g. line-v2.1)`, { field: "kind" });
  }
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_SETTING_LENGTH = 4096;
const MAX_SECRET_LENGTH = 16_384;

/** Public settings: a plain object of strings, finite numbers and booleans under short names. Returns a copy. */
export function validateSettings(settings: unknown): CredentialSettings {
  if (settings === undefined || settings === null) return {};
  if (typeof settings !== "object" || Array.isArray(settings)) throw new InvalidInputError("settings must be an object of names to strings, numbers or booleans", { field: "settings" });
  const out: CredentialSettings = {};
  for (const [name, value] of Object.entries(settings as Record<string, unknown>)) {
    if (!NAME.test(name)) throw new InvalidInputError(`setting name ${JSON.stringify(name.slice(0, 40))} is not valid: letters, digits, "_", "-" and "." (at most 64)`, { field: "settings" });
    const ok = typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value)) || (typeof value === "string" && value.length <= MAX_SETTING_LENGTH);
    if (!ok) throw new InvalidInputError(`setting ${name} must be a string (at most ${MAX_SETTING_LENGTH} characters), a finite number or a boolean`, { field: `settings.${name}` });
    out[name] = value as string | number | boolean;
  }
  return out;
}

/** Further secrets: non-empty strings under short names. The message never shows a value. */
export function validateSecrets(secrets: unknown): Record<string, string> {
  if (secrets === undefined || secrets === null) return {};
  if (typeof secrets !== "object" || Array.isArray(secrets)) throw new InvalidInputError("secrets must be an object of names to strings", { field: "secrets" });
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(secrets as Record<string, unknown>)) {
    if (!NAME.test(name)) throw new InvalidInputError(`secret name ${JSON.stringify(name.slice(0, 40))} is not valid: letters, digits, "_", "-" and "." (at most 64)`, { field: "secrets" });
    if (typeof value !== "string" || value.length === 0 || value.length > MAX_SECRET_LENGTH) {
      throw new InvalidInputError(`secret ${name} must be a non-empty string of at most ${MAX_SECRET_LENGTH} characters`, { field: `secrets.${name}` });
    }
    out[name] = value;
  }
  return out;
}

/**
 * Throws {@link InvalidInputError} (with the field) unless `input` is a credential the registry
 * can store: its kind, ID, kid, private key and channel secret as that kind needs them.
 */
export function validateCredentialInput(input: ChannelInput): void {
  if (input.kind !== undefined) validateKind(input.kind);
  const lineChannel = isLineChannelKind(input.kind ?? DEFAULT_CREDENTIAL_KIND);
  if (lineChannel) validateChannelId(input.channelId);
  else validateCredentialId(input.channelId);
  // Other kinds may sign without a kid (LINE WORKS' assertions carry none): "" is theirs to give.
  if (typeof input.kid !== "string" || (input.kid.length === 0 && lineChannel) || input.kid.length > 256 || /[\u0000-\u001f\s]/.test(input.kid)) {
    throw new InvalidInputError("kid must be the non-empty key ID LINE assigned to the registered public key (no spaces)", { field: "kid" });
  }
  const k = input.privateKey as Record<string, unknown> | null;
  if (k === null || typeof k !== "object" || Array.isArray(k) || typeof k["kty"] !== "string" || typeof k["d"] !== "string") {
    throw new InvalidInputError("privateKey must be a private JWK (an object with kty and d)", { field: "privateKey" });
  }
  // Likewise the channel secret: LINE's; other kinds keep theirs in `secrets` and may give "".
  if (typeof input.channelSecret !== "string" || (input.channelSecret.length === 0 && lineChannel) || input.channelSecret.length > 1024) {
    const what = typeof input.channelSecret !== "string" || input.channelSecret.length <= 1024 ? "must be a non-empty string" : `is ${input.channelSecret.length} characters, over the limit of 1024 (a LINE channel secret is 32 hexadecimal characters)`;
    throw new InvalidInputError(`channel secret ${what}`, { field: "channelSecret" });
  }
}
