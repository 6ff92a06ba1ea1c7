// The lines of a `kagiya channel import` file, read and validated one by one without touching a
// store: each either becomes a registry input or a refusal naming its line and field. Refusal
// reasons never quote a value from the line, so a secret in the wrong field is never echoed.
import type { JWK } from "jose";
import { InvalidInputError, KagiyaError } from "../../core/errors.ts";
import { lintKey } from "../../core/keys/lint.ts";
import { importAssertionKey } from "../../core/keys/import.ts";
import { parseKey, safeName, type KeyInput } from "../../core/keys/parse.ts";
import { LINE_WORKS_KIND } from "../../kinds/line-works/index.ts";
import { validateCredentialId, validatePolicy } from "../../store/credential-input.ts";
import type { ChannelInput } from "../../store/registry.ts";
import type { TokenPolicyOverrides } from "../../store/types.ts";
import type { KindRegistry } from "../../tokens/kind.ts";
import { MAX_SECRET_CHARS } from "./channel.ts";
import { checkWorksKey, checkWorksSettings, MAX_WORKS_SECRET_CHARS, type WorksFieldNames } from "./works.ts";

/** A credential read from line `line` of the file. `input` holds its private key and secret. */
export interface ImportLine {
  line: number;
  input: Required<Pick<ChannelInput, "channelId" | "kind" | "kid" | "privateKey" | "channelSecret" | "policy" | "settings" | "secrets">>;
}

/** Why line `line` cannot be imported. `id` is set once the line's ID was read. */
export interface LineRefusal {
  line: number;
  id?: string;
  field: string;
  reason: string;
}

/** What {@link readImportLines} found: the credentials in file order, and every refusal. */
export interface ImportLines {
  /** Non-blank lines read. */
  lines: number;
  credentials: ImportLine[];
  refusals: LineRefusal[];
}

/** The members a LINE channel's line may have. Anything else is refused, so a typo never goes unnoticed. */
const FIELDS = ["id", "kid", "key", "secret", "kind", "auth", "policy"] as const;
/** The members a LINE WORKS app's line (`"kind":"line-works"`) may have. */
const WORKS_FIELDS = ["id", "kind", "clientId", "clientSecret", "serviceAccount", "key", "scope", "refresh", "botId", "botSecret"] as const;
/** A works line's members are its own field names in refusals. */
const WORKS_NAMES: WorksFieldNames = { clientId: "clientId", serviceAccount: "serviceAccount", scope: "scope", refresh: "refresh", botId: "botId", botSecret: "botSecret" };

/** The refusal of one field: thrown inside a line's checks, caught per line. */
function refuse(field: string, reason: string): never {
  throw new InvalidInputError(reason, { field });
}

/**
 * Reads every line of an import file (JSON Lines; blank lines are passed over) and validates it
 * fully: ID, kid, key (held to `keys lint`'s rules for a private key, and importable for RS256),
 * secret, kind (with `auth` for stateless tokens) and policy (validated by the kind). An ID seen
 * on an earlier line is refused on the later one.
 *
 * @example
 * ```ts
 * const { credentials, refusals } = await readImportLines(text, new KindRegistry(builtinKinds(up)));
 * for (const r of refusals) console.log(`line ${r.line}: ${r.field}: ${r.reason}`);
 * ```
 */
export async function readImportLines(text: string, kinds: KindRegistry): Promise<ImportLines> {
  const credentials: ImportLine[] = [];
  const refusals: LineRefusal[] = [];
  const firstLineOf = new Map<string, number>();
  let lines = 0;
  const rows = text.replace(/^\uFEFF/, "").split("\n");
  for (let i = 0; i < rows.length; i++) {
    const raw = rows[i]!;
    if (raw.trim() === "") continue;
    lines++;
    const line = i + 1;
    let id: string | undefined;
    try {
      const value = parseJsonLine(raw);
      const works = value["kind"] === LINE_WORKS_KIND;
      id = works ? worksIdOf(value["id"]) : idOf(value["id"]);
      const earlier = firstLineOf.get(id);
      if (earlier !== undefined) refuse("id", `${works ? "app" : "channel"} ${id} is also on line ${earlier}: each ID may appear once in a file`);
      firstLineOf.set(id, line);
      credentials.push({ line, input: works ? await worksCredentialOf(id, value) : await credentialOf(id, value, kinds) });
    } catch (error) {
      if (!(error instanceof KagiyaError)) throw error;
      const field = error instanceof InvalidInputError && error.field !== undefined ? error.field : "key";
      refusals.push({ line, ...(id === undefined ? {} : { id }), field, reason: error.message });
    }
  }
  return { lines, credentials, refusals };
}

function parseJsonLine(raw: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    // JSON.parse's own message quotes the input, which may hold a secret.
    refuse("(line)", "is not valid JSON: each line must be one JSON object");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) refuse("(line)", "is not a JSON object: each line must be one credential such as {\"id\":…,\"kid\":…,\"key\":…,\"secret\":…}");
  const known: readonly string[] = (value as Record<string, unknown>)["kind"] === LINE_WORKS_KIND ? WORKS_FIELDS : FIELDS;
  const unknown = Object.keys(value).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    const which = known === WORKS_FIELDS ? "of a line-works app" : "of a LINE channel";
    refuse(safeName(unknown[0]), `unknown field ${JSON.stringify(safeName(unknown[0]))} ${which} (known: ${known.join(", ")})`);
  }
  return value as Record<string, unknown>;
}

function idOf(value: unknown): string {
  if (value === undefined) refuse("id", "missing: the channel ID (digits, from the LINE Developers Console)");
  if (typeof value !== "string" || !/^[0-9]{1,20}$/.test(value)) refuse("id", "must be a LINE channel ID as a string of digits (e.g. \"1234567890\")");
  return value;
}

async function credentialOf(channelId: string, value: Record<string, unknown>, kinds: KindRegistry): Promise<ImportLine["input"]> {
  const kid = kidOf(value["kid"]);
  const { kind, settings } = kindOf(value["kind"], value["auth"], kinds);
  const policy = policyOf(value["policy"], kind, kinds);
  const channelSecret = secretOf(value["secret"]);
  const privateKey = await privateKeyOf(value["key"]);
  return { channelId, kind, kid, privateKey, channelSecret, policy, settings, secrets: {} };
}

/** A LINE WORKS app's ID: a name in kagiya, held to the rule `works add` applies. */
function worksIdOf(value: unknown): string {
  if (value === undefined) refuse("id", "missing: a name for the app in kagiya (e.g. works-billing)");
  try {
    validateCredentialId(value);
  } catch (error) {
    if (error instanceof InvalidInputError) refuse("id", error.message);
    throw error;
  }
  return value;
}

/**
 * A LINE WORKS app, checked exactly as `works add` checks it (the same validators), with its
 * Client Secret and Bot Secret inline instead of in environment variables.
 */
async function worksCredentialOf(channelId: string, value: Record<string, unknown>): Promise<ImportLine["input"]> {
  const settings = checkWorksSettings(
    { clientId: value["clientId"], serviceAccount: value["serviceAccount"], scope: value["scope"], refresh: value["refresh"], botId: value["botId"], hasBotSecret: value["botSecret"] !== undefined },
    WORKS_NAMES,
  );
  const secrets: Record<string, string> = { clientSecret: worksSecretOf(value["clientSecret"], "clientSecret", "the app's Client Secret (Developer Console > API 2.0)") };
  if (value["botSecret"] !== undefined) secrets["botSecret"] = worksSecretOf(value["botSecret"], "botSecret", "the bot's Bot Secret");
  const key = value["key"];
  if (key === undefined) refuse("key", "missing: the service account's private key, as PKCS #8 PEM text or a private JWK object");
  const isObject = key !== null && typeof key === "object" && !Array.isArray(key);
  if (typeof key !== "string" && !isObject) refuse("key", "must be the service account's private key as PKCS #8 PEM text or a private JWK object");
  const privateKey = await checkWorksKey(typeof key === "string" ? key : JSON.stringify(key), "key", "key");
  return { channelId, kind: LINE_WORKS_KIND, kid: "", privateKey: privateKey as JWK, channelSecret: "", policy: {}, settings, secrets };
}

function worksSecretOf(value: unknown, field: string, what: string): string {
  if (value === undefined) refuse(field, `missing: ${what}`);
  if (typeof value !== "string" || value === "") refuse(field, `must be ${what} as a non-empty string`);
  if (value.length > MAX_WORKS_SECRET_CHARS) refuse(field, `is ${value.length} characters, over the limit of ${MAX_WORKS_SECRET_CHARS}`);
  return value;
}

function kidOf(value: unknown): string {
  if (value === undefined) refuse("kid", "missing: the key ID LINE assigned to the registered public key");
  if (typeof value !== "string" || value.length === 0 || value.length > 256 || /[\u0000-\u001f\s]/.test(value)) {
    refuse("kid", "must be the key ID LINE assigned to the registered public key (a string of at most 256 characters, no spaces)");
  }
  return value;
}

function kindOf(kindValue: unknown, auth: unknown, kinds: KindRegistry): { kind: string; settings: Record<string, string> } {
  const kind = kindValue ?? "line-v2.1";
  if (typeof kind !== "string") refuse("kind", `must be a string: ${kinds.names().join(" or ")}`);
  if (!kinds.names().includes(kind)) refuse("kind", `unknown credential kind ${JSON.stringify(safeName(kind))} (known: ${kinds.names().join(", ")})`);
  if (auth === undefined) return { kind, settings: {} };
  if (kind !== "line-stateless") refuse("auth", "applies to kind line-stateless only (v2.1 tokens are always issued with a JWT assertion)");
  if (auth !== "assertion" && auth !== "secret") refuse("auth", "must be \"assertion\" or \"secret\"");
  return { kind, settings: { auth } };
}

function policyOf(value: unknown, kind: string, kinds: KindRegistry): TokenPolicyOverrides {
  try {
    const policy = validatePolicy(value);
    kinds.get(kind).resolvePolicy(policy);
    return policy;
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    const sub = error.field?.replace(/^policy\.?/, "") ?? "";
    refuse(sub === "" ? "policy" : `policy.${sub}`, error.message);
  }
}

function secretOf(value: unknown): string {
  if (value === undefined) refuse("secret", "missing: the channel secret (LINE Developers Console > Basic settings)");
  if (typeof value !== "string" || value === "") refuse("secret", "must be the channel secret as a non-empty string");
  if (value.length > MAX_SECRET_CHARS) {
    refuse("secret", `is ${value.length} characters, over the limit of ${MAX_SECRET_CHARS}: a LINE channel secret is 32 hexadecimal characters`);
  }
  return value;
}

/** The key as a private JWK, held to `keys lint`'s rules and importable for RS256 signing. */
async function privateKeyOf(value: unknown): Promise<JWK> {
  if (value === undefined) refuse("key", "missing: the private assertion key, as a JWK object or PEM text");
  const isObject = value !== null && typeof value === "object" && !Array.isArray(value);
  if (typeof value !== "string" && !isObject) refuse("key", "must be a private JWK object or PEM text");
  const input = value as KeyInput;
  try {
    const lint = await lintKey(input);
    if (lint.kind !== "private") refuse("key", "is a public key: the private key is needed (private.jwk.json from kagiya keys generate)");
    if (lint.findings.length > 0) refuse("key", `fails keys lint (${lint.findings.map((f) => `${f.field}: ${f.message}`).join("; ")})`);
    const { jwk } = await parseKey(input);
    await importAssertionKey(jwk);
    return jwk as JWK;
  } catch (error) {
    // Key errors name the problem and never quote key material; they all belong to "key".
    if (error instanceof KagiyaError && !(error instanceof InvalidInputError)) refuse("key", error.message);
    throw error;
  }
}
