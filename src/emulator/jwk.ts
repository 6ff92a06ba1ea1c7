// The LINE Developers Console's rules for registering an assertion signing key's public half.
import { createPublicKey, type webcrypto } from "node:crypto";

type JsonWebKey = webcrypto.JsonWebKey;

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/**
 * Returns why `jwk` cannot be registered, or undefined when it can. Rules: kty RSA, 2048-bit
 * modulus, alg RS256, `use: "sig"` or `key_ops: ["verify"]` (nothing else), no kid (the console
 * assigns it), no private members.
 */
export function registrationProblem(jwk: unknown): string | undefined {
  if (jwk === null || typeof jwk !== "object" || Array.isArray(jwk)) return "the body must be a public JWK (a JSON object)";
  const k = jwk as Record<string, unknown>;
  if (k["kty"] !== "RSA") return 'the key must be an RSA key (kty "RSA")';
  const priv = PRIVATE_MEMBERS.filter((m) => m in k);
  if (priv.length > 0) return `the key contains private members (${priv.join(", ")}): register the public key only`;
  if ("kid" in k) return "remove kid from the key: LINE assigns the kid when the key is registered";
  if (k["alg"] !== "RS256") return 'the key must have alg "RS256"';
  const hasUse = "use" in k;
  const hasOps = "key_ops" in k;
  if (!hasUse && !hasOps) return 'the key must have use "sig" or key_ops ["verify"]';
  if (hasUse && k["use"] !== "sig") return 'use must be "sig"';
  if (hasOps) {
    const ops = k["key_ops"];
    if (!Array.isArray(ops) || ops.length !== 1 || ops[0] !== "verify") return 'key_ops must be exactly ["verify"]';
  }
  if (typeof k["n"] !== "string" || typeof k["e"] !== "string") return "the key must have n and e (base64url strings)";
  if (!/^[A-Za-z0-9_-]+$/.test(k["n"]) || !/^[A-Za-z0-9_-]+$/.test(k["e"])) return "n and e must be base64url without padding";
  const n = Buffer.from(k["n"], "base64url");
  let start = 0;
  while (start < n.length && n[start] === 0) start++;
  const bits = (n.length - start) * 8 - (start < n.length ? Math.clz32(n[start]!) - 24 : 0);
  if (bits !== 2048) return `the key must be RSA 2048-bit (this one is ${bits}-bit)`;
  try {
    createPublicKey({ key: k as JsonWebKey, format: "jwk" });
  } catch {
    return "the key is not a usable RSA public key";
  }
  return undefined;
}

/** The members kept when a key is stored (unknown members are dropped). */
export function publicMembers(jwk: Record<string, unknown>): JsonWebKey {
  const out: Record<string, unknown> = { kty: jwk["kty"], alg: jwk["alg"], n: jwk["n"], e: jwk["e"] };
  if ("use" in jwk) out["use"] = jwk["use"];
  if ("key_ops" in jwk) out["key_ops"] = jwk["key_ops"];
  return out as JsonWebKey;
}
