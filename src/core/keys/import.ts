import { isBase64url, decodeBase64url } from "../base64url.ts";
import { KeyError } from "../errors.ts";
import { defaultRsaBackend, type RsaBackend } from "./backend.ts";
import { parseKey, describeKty, safeName, type KeyInput } from "./parse.ts";
import { bitLength, bytesToBigInt, memberToBigInt, rsaConsistencyFailures } from "./rsa-math.ts";
import { jwkThumbprint } from "./thumbprint.ts";
import { CRT_MEMBERS, LINE_KEY_BITS, type Jwk, type RsaPrivateJwk, type RsaPublicJwk } from "./types.ts";

/**
 * An imported assertion signing key: the private half is held by the backend, non-extractable,
 * and appears in no property, so logging this object shows no secret.
 */
export interface AssertionKey {
  readonly type: "private";
  /** The public half: kty, n, e (plus alg and use). */
  readonly publicJwk: Readonly<RsaPublicJwk>;
  /** RFC 7638 thumbprint of the public half. */
  readonly thumbprint: string;
  /** The JWK's own kid, when it had one (LINE's kid is given to createLineAssertion). */
  readonly kid: string | undefined;
  /** Which backend signs ("node" or "webcrypto"). */
  readonly backend: string;
  /** RS256 signature over `data` (a string counts as its UTF-8). */
  sign(data: Uint8Array | string): Promise<Uint8Array>;
  /** Checks an RS256 signature (bytes, or unpadded base64url text) made by this key. */
  verify(data: Uint8Array | string, signature: Uint8Array | string): Promise<boolean>;
}

/** An imported public key for checking RS256 signatures. */
export interface VerifyKey {
  readonly type: "public";
  readonly publicJwk: Readonly<RsaPublicJwk>;
  readonly thumbprint: string;
  readonly kid: string | undefined;
  readonly backend: string;
  /** Checks an RS256 signature (bytes, or unpadded base64url text) over `data`. */
  verify(data: Uint8Array | string, signature: Uint8Array | string): Promise<boolean>;
}

/** Options for the key importers. */
export interface ImportKeyOptions {
  /** Where signing happens; defaults to {@link defaultRsaBackend}. */
  backend?: RsaBackend;
}

function fail(message: string, code = "ERR_KEY_INVALID"): never {
  throw new KeyError(message, { code });
}

function member(jwk: Jwk, name: string): string {
  const value = jwk[name];
  if (value === undefined) fail(`the key has no "${name}" member`);
  if (typeof value !== "string" || !isBase64url(value)) {
    fail(`the key's "${name}" member is not unpadded base64url (check for "=", "+", "/" or spaces)`);
  }
  return value;
}

/** Validates the public half against LINE's rules; returns it with only the members that matter. */
function checkPublicHalf(jwk: Jwk, usage: "sign" | "verify"): RsaPublicJwk {
  if (jwk["kty"] !== "RSA") {
    if (jwk["kty"] === undefined) fail("the key has no \"kty\" member: LINE assertion keys are JWKs with kty \"RSA\"", "ERR_KEY_TYPE");
    const kty = describeKty(jwk);
    const hint = kty === "oct" ? " (a shared secret)" : "";
    fail(`the key is kty "${kty}"${hint}: LINE assertion keys must be RSA 2048-bit (kagiya keys generate makes one)`, "ERR_KEY_TYPE");
  }
  if (jwk["oth"] !== undefined) fail("multi-prime RSA keys (\"oth\") are not supported: use a two-prime RSA 2048-bit key");
  const n = member(jwk, "n");
  const e = member(jwk, "e");
  const bits = bitLength(bytesToBigInt(decodeBase64url(n)));
  if (bits !== LINE_KEY_BITS) {
    fail(`the key is RSA ${bits}-bit: LINE assertion keys must be RSA ${LINE_KEY_BITS}-bit (kagiya keys generate makes one)`, "ERR_KEY_SIZE");
  }
  const exponent = memberToBigInt(e);
  if (exponent < 3n || exponent % 2n === 0n) fail("the key's public exponent e is not an odd number of at least 3 (use e = 65537, \"AQAB\")");
  const alg = jwk["alg"];
  if (alg !== undefined && alg !== "RS256") fail(`the key is marked alg "${safeName(alg)}": LINE assertion keys are RS256`);
  const use = jwk["use"];
  if (use !== undefined && use !== "sig") fail(`the key is marked use "${safeName(use)}": assertion keys are for signatures (use "sig")`);
  const ops = jwk["key_ops"];
  if (ops !== undefined && !(Array.isArray(ops) && (ops.includes(usage) || (usage === "verify" && ops.includes("sign"))))) {
    fail(`the key's key_ops do not allow "${usage}"`);
  }
  return { kty: "RSA", n, e };
}

function checkPrivate(jwk: Jwk, pub: RsaPublicJwk): RsaPrivateJwk {
  const d = member(jwk, "d");
  const missing = CRT_MEMBERS.filter((m) => jwk[m] === undefined);
  if (missing.length > 0) fail(`the private key lacks ${missing.join(", ")}: export it again with all RSA private members`);
  const crt = Object.fromEntries(CRT_MEMBERS.map((m) => [m, member(jwk, m)])) as Record<(typeof CRT_MEMBERS)[number], string>;
  const failures = rsaConsistencyFailures({
    n: memberToBigInt(pub.n), e: memberToBigInt(pub.e), d: memberToBigInt(d),
    p: memberToBigInt(crt.p), q: memberToBigInt(crt.q), dp: memberToBigInt(crt.dp), dq: memberToBigInt(crt.dq), qi: memberToBigInt(crt.qi),
  });
  if (failures.length > 0) {
    fail(`the private key's members do not fit together (${failures.join("; ")} fails): it is corrupted or mixes two keys`, "ERR_KEY_MISMATCH");
  }
  return { ...pub, d, ...crt };
}

function kidOf(jwk: Jwk): string | undefined {
  return typeof jwk["kid"] === "string" ? jwk["kid"] : undefined;
}

/**
 * Imports a LINE assertion signing key once, for reuse across any number of
 * `createLineAssertion` calls. Accepts a private JWK object, JWK JSON text or PEM text
 * (PKCS #8 or PKCS #1). Refuses, with a {@link KeyError} that never quotes key material:
 * non-RSA keys (`ERR_KEY_TYPE`), moduli other than 2048 bits (`ERR_KEY_SIZE`), public keys
 * (`ERR_KEY_NOT_PRIVATE`), members that do not fit together (`ERR_KEY_MISMATCH`) and anything
 * unreadable (`ERR_KEY_PARSE`, `ERR_KEY_INVALID`).
 *
 * @example
 * ```ts
 * const key = await importAssertionKey(await readFile("private.jwk.json", "utf8"));
 * const jwt = await createLineAssertion(key, { channelId: "1234567890", kid: "536e453c-…" });
 * ```
 */
export async function importAssertionKey(input: KeyInput, options: ImportKeyOptions = {}): Promise<AssertionKey> {
  const parsed = await parseKey(input);
  const jwk = parsed.jwk;
  const pub = checkPublicHalf(jwk, "sign");
  if (!parsed.isPrivate) {
    fail("this is a public key: signing needs the private key (private.jwk.json from kagiya keys generate)", "ERR_KEY_NOT_PRIVATE");
  }
  const priv = checkPrivate(jwk, pub);
  const backend = options.backend ?? defaultRsaBackend();
  let sign, verify;
  try {
    [sign, verify] = await Promise.all([backend.importSigner(priv), backend.importVerifier(pub)]);
  } catch {
    fail("the key could not be imported for RS256 signing");
  }
  const publicJwk = Object.freeze({ kty: "RSA" as const, alg: "RS256", use: "sig", n: pub.n, e: pub.e });
  return Object.freeze({ type: "private" as const, publicJwk, thumbprint: await jwkThumbprint(pub), kid: kidOf(jwk), backend: backend.name, sign, verify });
}

/**
 * Imports a key for checking RS256 signatures: a public or private JWK (object or JSON text)
 * or PEM; only the public half is kept. Same refusals as {@link importAssertionKey}, except
 * that public keys are what it wants.
 *
 * @example
 * ```ts
 * const key = await importVerifyKey(await readFile("public.jwk.json", "utf8"));
 * const { valid } = await verifyJws(jwt, key);
 * ```
 */
export async function importVerifyKey(input: KeyInput, options: ImportKeyOptions = {}): Promise<VerifyKey> {
  const parsed = await parseKey(input);
  const pub = checkPublicHalf(parsed.jwk, "verify");
  if (parsed.isPrivate) checkPrivate(parsed.jwk, pub);
  const backend = options.backend ?? defaultRsaBackend();
  let verify;
  try {
    verify = await backend.importVerifier(pub);
  } catch {
    fail("the key could not be imported for RS256 verification");
  }
  const publicJwk = Object.freeze({ kty: "RSA" as const, alg: "RS256", use: "sig", n: pub.n, e: pub.e });
  return Object.freeze({ type: "public" as const, publicJwk, thumbprint: await jwkThumbprint(pub), kid: kidOf(parsed.jwk), backend: backend.name, verify });
}
