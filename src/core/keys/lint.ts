import { decodeBase64Lenient } from "../base64url.ts";
import { KeyError } from "../errors.ts";
import type { KeyFinding, KeyFindingCode } from "../findings.ts";
import { parseKey, safeName, type KeyInput } from "./parse.ts";
import { bitLength, bytesToBigInt, rsaConsistencyFailures } from "./rsa-math.ts";
import { jwkThumbprint } from "./thumbprint.ts";
import { CRT_MEMBERS, LINE_KEY_BITS, PRIVATE_MEMBERS } from "./types.ts";

/** Options for {@link lintKey}. */
export interface KeyLintOptions {
  /**
   * Treat the key as the public key about to be registered with LINE: any private member
   * is then a finding. By default a key with `d` is linted as a private key.
   */
  public?: boolean;
}

/** What {@link lintKey} found. */
export interface KeyLintResult {
  /** How the key was written. */
  format: "jwk" | "pem";
  /** Whether it was linted as a public or a private key. */
  kind: "public" | "private";
  /** Modulus size measured from n, when n could be read. */
  bits: number | undefined;
  /** RFC 7638 thumbprint, when kty, n and e could be read. */
  thumbprint: string | undefined;
  /** Empty when the key meets every rule. */
  findings: KeyFinding[];
}

const B64_MEMBERS = ["n", "e", "d", ...CRT_MEMBERS] as const;

/**
 * Checks a public or private JWK, or a PEM key, against LINE's assertion-key rules: kty RSA;
 * a 2048-bit modulus measured from n; a sane e; alg RS256; use "sig" or key_ops ["verify"]
 * (["sign"] on a private key); no kid on a public key; no private member in a public key;
 * unpadded base64url members; and, for a private key, members that fit together and match
 * n and e. Findings never quote a private member. Throws {@link KeyError} only when the input
 * cannot be read as a key at all.
 *
 * @example
 * ```ts
 * const { findings } = await lintKey(await readFile("public.jwk.json", "utf8"));
 * for (const f of findings) console.log(`${f.field}: ${f.message} (${f.fix})`);
 * ```
 */
export async function lintKey(input: KeyInput, options: KeyLintOptions = {}): Promise<KeyLintResult> {
  let parsed;
  try {
    parsed = await parseKey(input);
  } catch (error) {
    // A PEM of another key type is a finding, like an EC JWK, not unreadable input.
    if (error instanceof KeyError && error.code === "ERR_KEY_TYPE") {
      return { format: "pem", kind: "private", bits: undefined, thumbprint: undefined, findings: [finding("KEY_KTY_NOT_RSA", "kty", error.message.replace(/^the PEM key /, "the key ").replace(" (kagiya keys generate makes one)", ""), "generate an RSA 2048-bit key: kagiya keys generate")] };
    }
    throw error;
  }
  const { jwk, format } = parsed;
  const kind = parsed.isPrivate && !options.public ? "private" : "public";
  const findings: KeyFinding[] = [];
  const add = (code: KeyFindingCode, field: string, message: string, fix: string) => findings.push(finding(code, field, message, fix));

  if (jwk["kty"] !== "RSA") {
    const what = jwk["kty"] === undefined ? "kty is missing" : `kty is "${safeName(jwk["kty"])}"`;
    add("KEY_KTY_NOT_RSA", "kty", `${what}: LINE assertion keys are RSA`, "generate an RSA 2048-bit key: kagiya keys generate");
    return { format, kind, bits: undefined, thumbprint: undefined, findings };
  }

  // Decode every base64url member leniently so one encoding mistake does not hide the others.
  const values: Partial<Record<(typeof B64_MEMBERS)[number], bigint>> = {};
  let nBytes: Uint8Array | undefined;
  for (const name of B64_MEMBERS) {
    const raw = jwk[name];
    if (raw === undefined) continue;
    if (typeof raw !== "string") {
      add("KEY_MEMBER_NOT_STRING", name, `${name} is a ${Array.isArray(raw) ? "array" : typeof raw}, not a base64url string`, `write ${name} as an unpadded base64url string`);
      continue;
    }
    if (raw.includes("=")) add("KEY_B64_PADDING", name, `${name} ends with "=" padding`, `remove the trailing "=" from ${name}`);
    if (/[^A-Za-z0-9_\-=]/.test(raw)) {
      add("KEY_B64_ALPHABET", name, `${name} has characters outside base64url (such as "+", "/" or spaces)`, `re-encode ${name} as base64url: "+" becomes "-", "/" becomes "_", no spaces`);
    }
    try {
      const bytes = decodeBase64Lenient(raw.replace(/\s+/g, ""));
      values[name] = bytesToBigInt(bytes);
      if (name === "n") nBytes = bytes;
    } catch {
      // Already reported as an alphabet problem; nothing to measure.
    }
  }

  let bits: number | undefined;
  if (jwk["n"] === undefined) add("KEY_N_MISSING", "n", "the modulus n is missing", "export the key again with its n and e members");
  if (nBytes !== undefined && values.n !== undefined) {
    bits = bitLength(values.n);
    if (nBytes.length > 0 && nBytes[0] === 0) add("KEY_N_LEADING_ZERO", "n", "n starts with a zero octet", "encode n with the minimum number of octets (drop leading zero bytes)");
    if (bits !== LINE_KEY_BITS) add("KEY_MODULUS_SIZE", "n", `the modulus is ${bits} bits (measured from n): LINE needs exactly ${LINE_KEY_BITS}`, "generate an RSA 2048-bit key: kagiya keys generate");
  }
  if (jwk["e"] === undefined) add("KEY_E_MISSING", "e", "the public exponent e is missing", 'set e to "AQAB" (65537) by exporting the key again');
  else if (values.e !== undefined) {
    if (values.e < 3n || values.e % 2n === 0n) add("KEY_E_INVALID", "e", `e = ${values.e < 1n << 64n ? values.e : "a huge number"} is not an odd number of at least 3`, 'use e = 65537 ("AQAB"): generate a new key');
    else if (values.e !== 65537n) add("KEY_E_UNUSUAL", "e", `e = ${values.e < 1n << 64n ? values.e : "a huge number"}, not the usual 65537`, 'use e = 65537 ("AQAB"): generate a new key');
  }

  // A PEM cannot say alg, use or kid; those rules apply to JWKs.
  if (format === "jwk") {
    const alg = jwk["alg"];
    if (alg === undefined) add("KEY_ALG_MISSING", "alg", "alg is missing", 'add "alg": "RS256"');
    else if (alg !== "RS256") add("KEY_ALG_NOT_RS256", "alg", `alg is "${safeName(alg)}"`, 'set "alg": "RS256"');
    const use = jwk["use"];
    const ops = jwk["key_ops"];
    if (use === undefined && ops === undefined) add("KEY_USE_MISSING", "use", "neither use nor key_ops is present", 'add "use": "sig"');
    if (use !== undefined && ops !== undefined) add("KEY_USE_AND_KEY_OPS", "key_ops", "both use and key_ops are present", 'keep only "use": "sig" (or only key_ops)');
    if (use !== undefined && use !== "sig") add("KEY_USE_NOT_SIG", "use", `use is "${safeName(use)}"`, 'set "use": "sig"');
    if (ops !== undefined) {
      const wanted = kind === "public" ? ["verify"] : ["sign"];
      const ok = Array.isArray(ops) && ops.length === 1 && ops[0] === wanted[0];
      const shown = Array.isArray(ops) ? JSON.stringify(ops.map((o) => safeName(o))) : typeof ops;
      if (!ok) add("KEY_OPS_INVALID", "key_ops", `key_ops is ${shown}: a ${kind} assertion key has exactly ${JSON.stringify(wanted)}`, `set "key_ops": ${JSON.stringify(wanted)}`);
    }
    if (kind === "public" && jwk["kid"] !== undefined) {
      add("KEY_KID_PRESENT", "kid", "the public key has a kid: the LINE console assigns the kid and refuses keys that carry one", 'remove "kid" before registering');
    }
  }

  if (kind === "public") {
    for (const name of PRIVATE_MEMBERS) {
      if (jwk[name] !== undefined) add("KEY_PRIVATE_MEMBER_IN_PUBLIC", name, `the public key carries the private member "${name}"`, `remove "${name}" (and every other private member) from the public key`);
    }
  } else {
    if (jwk["oth"] !== undefined) add("KEY_MULTI_PRIME", "oth", "the key is multi-prime (oth)", "generate a two-prime RSA 2048-bit key: kagiya keys generate");
    const missing = CRT_MEMBERS.filter((m) => jwk[m] === undefined);
    for (const m of missing) add("KEY_PRIVATE_INCOMPLETE", m, `the private key lacks "${m}"`, "export the private key again with all of d, p, q, dp, dq, qi");
    const v = values;
    if (missing.length === 0 && v.n !== undefined && v.e !== undefined && v.d !== undefined && v.p !== undefined && v.q !== undefined && v.dp !== undefined && v.dq !== undefined && v.qi !== undefined) {
      const failures = rsaConsistencyFailures({ n: v.n, e: v.e, d: v.d, p: v.p, q: v.q, dp: v.dp, dq: v.dq, qi: v.qi });
      for (const relation of failures) {
        const field = relation.startsWith("p*q") ? "p" : relation.startsWith("e*d") ? "d" : relation.split(" ")[0]!.replace("*q", "");
        add("KEY_PRIVATE_MISMATCH", field, `the private key does not match its public half: ${relation} does not hold`, "the key is corrupted or mixes two keys: restore it from a backup or generate a new one");
      }
    }
  }

  let thumbprint: string | undefined;
  if (typeof jwk["n"] === "string" && typeof jwk["e"] === "string") thumbprint = await jwkThumbprint(jwk);
  return { format, kind, bits, thumbprint, findings };
}

function finding(code: KeyFindingCode, field: string, message: string, fix: string): KeyFinding {
  return { code, field, message, fix };
}
