import { formatDuration, parseDuration } from "../../core/duration.ts";
import { InvalidInputError, KeyError } from "../../core/errors.ts";
import { createLineAssertion } from "../../core/jwt/assertion.ts";
import { inspectJws, type InspectResult } from "../../core/jwt/inspect.ts";
import { ASSERTION_EXPIRES_IN_DEFAULT, ASSERTION_EXPIRES_IN_MAX, TOKEN_EXP_DEFAULT, TOKEN_EXP_MAX } from "../../core/jwt/line-rules.ts";
import { signJws } from "../../core/jwt/sign.ts";
import { checkServiceAccount, checkWorksClientId, createWorksAssertion } from "../../core/jwt/works-assertion.ts";
import { WORKS_ASSERTION_EXPIRES_IN_DEFAULT, WORKS_ASSERTION_EXPIRES_IN_MAX } from "../../core/jwt/works-rules.ts";
import { importAssertionKey, importVerifyKey, type AssertionKey, type VerifyKey } from "../../core/keys/import.ts";
import { readTextFile } from "../../node/read-text.ts";
import { parseArgs, required } from "../args.ts";
import { JSON_FLAG, type CommandHelp } from "../help.ts";
import type { Command } from "../io.ts";

/** Reads and imports a key file, prefixing key errors with the file name. */
async function loadKey<T>(path: string, cwd: string, importer: (text: string) => Promise<T>): Promise<T> {
  const text = await readTextFile(path, { cwd, what: "key file (--key)" });
  try {
    return await importer(text);
  } catch (error) {
    if (error instanceof KeyError) throw new KeyError(`--key ${path}: ${error.message}`, { code: error.code });
    throw error;
  }
}

function durationFlag(value: string | undefined, flag: string, fallback: number, max: number, who = "LINE"): number {
  if (value === undefined) return fallback;
  const seconds = parseDuration(value, flag);
  if (seconds < 1) throw new InvalidInputError(`${flag} ${value} is too short: give at least 1s`, { field: flag, code: "ERR_OUT_OF_RANGE" });
  if (seconds > max) {
    throw new InvalidInputError(`${flag} ${value} (${seconds} s) is over ${who}'s limit of ${formatDuration(max)} (${max} s): give ${formatDuration(max)} or less`, { field: flag, code: "ERR_OUT_OF_RANGE" });
  }
  return seconds;
}

function noPositionals(positionals: string[], command: string): void {
  if (positionals.length > 0) throw new InvalidInputError(`jwt ${command} takes no arguments (got "${positionals[0]!.slice(0, 40)}")`);
}

/** Refuses flags that belong to the other service's assertions. */
function noFlags(flags: Record<string, unknown>, names: string[], why: string): void {
  const given = names.find((n) => flags[n] !== undefined);
  if (given !== undefined) throw new InvalidInputError(`--${given} ${why}`, { field: `--${given}` });
}

/**
 * `kagiya jwt create --channel-id ID --kid KID --key FILE [--expires-in 5m] [--token-exp 30d]`, or
 * `kagiya jwt create --works --client-id CID --service-account SA --key FILE [--expires-in 1h]`.
 */
const create: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    "channel-id": { kind: "string", value: "ID", help: "channel ID: the assertion's iss and sub" },
    kid: { kind: "string", value: "KID", help: "key ID LINE gave for the registered public key" },
    key: { kind: "string", value: "FILE", help: "private assertion key, JWK or PEM" },
    "expires-in": { kind: "string", value: "DURATION", help: `assertion lifetime (exp - iat), at most ${formatDuration(ASSERTION_EXPIRES_IN_MAX)} (LINE WORKS: ${formatDuration(WORKS_ASSERTION_EXPIRES_IN_MAX)})`, default: formatDuration(ASSERTION_EXPIRES_IN_DEFAULT) },
    "token-exp": { kind: "string", value: "DURATION", help: `lifetime of the token it asks for, at most ${formatDuration(TOKEN_EXP_MAX)}`, default: formatDuration(TOKEN_EXP_DEFAULT) },
    works: { kind: "boolean", help: "a LINE WORKS service-account assertion (with --client-id, --service-account, --key)" },
    "client-id": { kind: "string", value: "CID", help: "LINE WORKS client ID: the assertion's iss (with --works)" },
    "service-account": { kind: "string", value: "SA", help: "LINE WORKS service account ID (xxx.serviceaccount@domain): the assertion's sub (with --works)" },
  });
  noPositionals(positionals, "create");
  if (flags.works) {
    noFlags(flags, ["channel-id", "kid", "token-exp"], "is for LINE assertions: LINE WORKS takes --client-id, --service-account and --key (its tokens' lifetime is set in the console)");
    const clientId = checkWorksClientId(required(flags["client-id"], "client-id"), "--client-id");
    const serviceAccount = checkServiceAccount(required(flags["service-account"], "service-account"), "--service-account");
    const keyPath = required(flags.key, "key");
    const expiresIn = durationFlag(flags["expires-in"], "--expires-in", WORKS_ASSERTION_EXPIRES_IN_DEFAULT, WORKS_ASSERTION_EXPIRES_IN_MAX, "LINE WORKS");
    const key = await loadKey<AssertionKey>(keyPath, io.cwd, (t) => importAssertionKey(t));
    io.stdout((await createWorksAssertion(key, { clientId, serviceAccount, expiresIn })) + "\n");
    return 0;
  }
  noFlags(flags, ["client-id", "service-account"], "is for LINE WORKS assertions: add --works");
  const channelId = required(flags["channel-id"], "channel-id");
  const kid = required(flags.kid, "kid");
  const keyPath = required(flags.key, "key");
  if (!/^\d+$/.test(channelId)) throw new InvalidInputError(`--channel-id "${channelId.slice(0, 40)}" is not a channel ID: it is the number shown in the LINE Developers Console`, { field: "--channel-id" });
  const expiresIn = durationFlag(flags["expires-in"], "--expires-in", ASSERTION_EXPIRES_IN_DEFAULT, ASSERTION_EXPIRES_IN_MAX);
  const tokenExp = durationFlag(flags["token-exp"], "--token-exp", TOKEN_EXP_DEFAULT, TOKEN_EXP_MAX);
  const key = await loadKey<AssertionKey>(keyPath, io.cwd, (t) => importAssertionKey(t));
  io.stdout((await createLineAssertion(key, { channelId, kid, expiresIn, tokenExp })) + "\n");
  return 0;
};

/** `kagiya jwt sign --key FILE --header JSON --payload JSON` */
const sign: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    key: { kind: "string", value: "FILE", help: "private RSA key, JWK or PEM" },
    header: { kind: "string", value: "JSON", help: "JWS protected header, as JSON" },
    payload: { kind: "string", value: "JSON", help: "payload, as JSON (signed as given)" },
  });
  noPositionals(positionals, "sign");
  const keyPath = required(flags.key, "key");
  const header = required(flags.header, "header");
  const payload = required(flags.payload, "payload");
  try {
    JSON.parse(payload);
  } catch {
    throw new InvalidInputError("--payload is not valid JSON", { field: "--payload" });
  }
  const key = await loadKey<AssertionKey>(keyPath, io.cwd, (t) => importAssertionKey(t));
  let jws: string;
  try {
    jws = await signJws(key, header, payload);
  } catch (error) {
    if (error instanceof InvalidInputError && error.field === "header") throw new InvalidInputError(error.message.replace("the JWS header", "--header"), { field: "--header" });
    throw error;
  }
  io.stdout(jws + "\n");
  return 0;
};

function human(result: InspectResult): string {
  const lines = [
    `header:    ${JSON.stringify(result.header)}`,
    `payload:   ${JSON.stringify(result.payload)}`,
  ];
  const exp = result.payload["exp"];
  if (typeof exp === "number" && Number.isFinite(exp)) lines.push(`expires:   ${new Date(exp * 1000).toISOString()}`);
  lines.push(`signature: ${result.signature}${result.signature === "not-checked" ? " (give --key FILE to check it)" : ""}`);
  if (result.findings.length === 0) lines.push("findings:  none");
  else {
    lines.push(`findings:  ${result.findings.length}`);
    for (const f of result.findings) lines.push(`  ${f.field}: ${f.message} [${f.code}]`);
  }
  return lines.join("\n") + "\n";
}

/** `kagiya jwt inspect [TOKEN|-] [--works] [--key FILE] [--json]` (--works: LINE WORKS' rules instead of LINE's) */
const inspect: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    key: { kind: "string", value: "FILE", help: "public (or private) key to check the signature with", default: "signature not checked" },
    json: JSON_FLAG,
    works: { kind: "boolean", help: "apply LINE WORKS' rules (no kid, no aud, no token_exp; exp - iat at most 1 h; sub a service account)" },
  });
  if (positionals.length > 1) throw new InvalidInputError("jwt inspect takes one TOKEN (or - to read it from standard input)");
  const arg = positionals[0];
  const token = arg === undefined || arg === "-" ? await io.readStdin() : arg;
  if (token.trim() === "") throw new InvalidInputError("no token given: kagiya jwt inspect TOKEN, or pipe it in with -");
  const key = flags.key === undefined ? undefined : await loadKey<VerifyKey>(flags.key, io.cwd, (t) => importVerifyKey(t));
  const rules = flags.works ? "works" : "line";
  const result = await inspectJws(token, key ? { key, rules } : { rules });
  io.stdout(flags.json ? JSON.stringify(result) + "\n" : human(result));
  return result.findings.length === 0 && result.signature !== "invalid" ? 0 : 1;
};

/** Subcommands of `kagiya jwt`. */
export const commands: Record<string, Command> = { create, sign, inspect };

/** Help for `kagiya jwt …`. */
export const help: Record<string, CommandHelp> = {
  create: {
    summary: "create a LINE client assertion (RS256 JWT) to trade for a channel access token v2.1",
    example: "kagiya jwt create --channel-id 1234567890 --kid KID --key keys/private.jwk.json",
  },
  sign: {
    summary: "sign any header and payload as a compact JWS (RS256), exactly as given",
    example: `kagiya jwt sign --key keys/private.jwk.json --header '{"alg":"RS256","typ":"JWT","kid":"KID"}' --payload '{"iss":"1234567890"}'`,
  },
  inspect: {
    summary: "decode a JWT and name every mistake LINE would refuse it for",
    args: "[TOKEN|-]",
    description: "Reads the token from standard input when it is - or absent.",
    failure: "findings, or a signature that does not verify",
    example: "kagiya jwt create --channel-id 1234567890 --kid KID --key keys/private.jwk.json | kagiya jwt inspect - --key keys/public.jwk.json",
  },
};
