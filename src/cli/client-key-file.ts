// Reading an OAuth client's private key for `oauth add --auth-method private_key_jwt --key FILE`:
// a PKCS #8 PEM or a JWK, checked by the oauth2 kind's rules (./../kinds/oauth2/client-key.ts).
// Messages name the file's problem, never its content.
import { createPrivateKey } from "node:crypto";
import { InvalidInputError } from "../core/errors.ts";
import { checkClientKey, type ClientKeyAlg } from "../kinds/oauth2/client-key.ts";
import { readTextFile } from "../node/read-text.ts";

/**
 * The client key in `path` as a JWK of its private members, with the algorithm it signs with
 * (`alg`, else the key's own or its type's default).
 */
export async function readClientKeyFile(path: string, cwd: string, alg: string | undefined): Promise<{ jwk: Record<string, unknown>; alg: ClientKeyAlg }> {
  const text = (await readTextFile(path, { cwd, what: "key file (--key)" })).replace(/^\uFEFF/, "").trim();
  const bad = (why: string) => new InvalidInputError(`--key ${path}: ${why}`, { field: "--key" });
  let jwk: unknown;
  if (text.startsWith("{")) {
    try {
      jwk = JSON.parse(text);
    } catch {
      throw bad("not valid JSON (expected a JWK or a PKCS #8 PEM)");
    }
  } else if (text.startsWith("-----BEGIN PRIVATE KEY-----")) {
    try {
      jwk = createPrivateKey({ key: text, format: "pem" }).export({ format: "jwk" });
    } catch {
      throw bad("the PKCS #8 PEM could not be read");
    }
  } else if (/^-----BEGIN (RSA|EC) PRIVATE KEY-----/.test(text)) {
    throw bad("a PKCS #1 or SEC 1 PEM: convert it to PKCS #8 (openssl pkcs8 -topk8 -nocrypt -in KEY)");
  } else if (/^-----BEGIN (RSA )?PUBLIC KEY-----/.test(text)) {
    throw bad("a public key: private_key_jwt signs with the private key (the provider keeps the public one)");
  } else {
    throw bad("expected a PKCS #8 PEM (BEGIN PRIVATE KEY) or a JWK");
  }
  if (jwk === null || typeof jwk !== "object" || Array.isArray(jwk)) throw bad("not a JWK object");
  return checkClientKey(jwk as Record<string, unknown>, alg, `--key ${path}`);
}
