import { decodeBase64url } from "../base64url.ts";
import type { RsaPrivateJwk, RsaPublicJwk } from "./types.ts";

/** Signs bytes (or a string's UTF-8) with RS256 (RSASSA-PKCS1-v1_5 with SHA-256). */
export type RsaSignFn = (data: Uint8Array | string) => Promise<Uint8Array>;
/**
 * Verifies an RS256 signature over bytes (or a string's UTF-8). The signature is bytes, or a
 * string holding them as unpadded base64url (what a compact JWS carries), so a backend can use
 * a native decoder; callers check the base64url alphabet first.
 */
export type RsaVerifyFn = (data: Uint8Array | string, signature: Uint8Array | string) => Promise<boolean>;

/**
 * Where RS256 signing happens. The core ships {@link webCryptoRsa}; a runtime may offer a faster
 * one (on Node, `nodeRsa` from `src/node/rsa.ts` signs on the calling thread instead of hopping
 * to the thread pool) and make it the default with {@link preferRsaBackend}.
 *
 * @example
 * ```ts
 * const key = await importAssertionKey(pem, { backend: webCryptoRsa });
 * ```
 */
export interface RsaBackend {
  readonly name: string;
  /** Imports an already-validated private JWK; the returned function keeps the key non-extractable. */
  importSigner(jwk: RsaPrivateJwk): Promise<RsaSignFn>;
  /** Imports an already-validated public JWK. */
  importVerifier(jwk: RsaPublicJwk): Promise<RsaVerifyFn>;
}

const ALGORITHM = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;
const encoder = new TextEncoder();

function bytes(data: Uint8Array | string): Uint8Array<ArrayBuffer> {
  return (typeof data === "string" ? encoder.encode(data) : data) as Uint8Array<ArrayBuffer>;
}

/**
 * RS256 through WebCrypto (`crypto.subtle`): runs on any runtime.
 *
 * @example
 * ```ts
 * const sign = await webCryptoRsa.importSigner(privateJwk);
 * const signature = await sign(new TextEncoder().encode("header.payload"));
 * ```
 */
export const webCryptoRsa: RsaBackend = {
  name: "webcrypto",
  async importSigner(jwk) {
    const { kty, n, e, d, p, q, dp, dq, qi } = jwk;
    const key = await crypto.subtle.importKey("jwk", { kty, n, e, d, p, q, dp, dq, qi }, ALGORITHM, false, ["sign"]);
    return async (data) => new Uint8Array(await crypto.subtle.sign(ALGORITHM, key, bytes(data)));
  },
  async importVerifier(jwk) {
    const { kty, n, e } = jwk;
    const key = await crypto.subtle.importKey("jwk", { kty, n, e }, ALGORITHM, false, ["verify"]);
    return async (data, signature) => {
      let sig: Uint8Array;
      try {
        sig = typeof signature === "string" ? decodeBase64url(signature) : signature;
      } catch {
        return false;
      }
      return crypto.subtle.verify(ALGORITHM, key, sig as Uint8Array<ArrayBuffer>, bytes(data));
    };
  },
};

let preferred: RsaBackend = webCryptoRsa;

/**
 * Makes `backend` the one key imports use when no `backend` option is given, process-wide. The
 * CLI calls this with the Node backend when it runs; no module does on import.
 *
 * @example
 * ```ts
 * import { nodeRsa } from "kagiya";
 * preferRsaBackend(nodeRsa);
 * ```
 */
export function preferRsaBackend(backend: RsaBackend): void {
  preferred = backend;
}

/**
 * The backend key imports use by default.
 *
 * @example
 * ```ts
 * defaultRsaBackend().name; // "webcrypto" or "node"
 * ```
 */
export function defaultRsaBackend(): RsaBackend {
  return preferred;
}
