/**
 * kagiya's web-standard core (`kagiya/core`): assertion keys, JWT client assertions and the
 * webhook signature, on WebCrypto alone. No `node:*` import anywhere below, so it runs unchanged on
 * Node, Deno, Bun and Cloudflare Workers.
 *
 * @example
 * ```ts
 * import { createLineAssertion, generateAssertionKeyPair, importAssertionKey } from "kagiya/core";
 * const { privateJwk } = await generateAssertionKeyPair();
 * const key = await importAssertionKey(privateJwk);
 * const jwt = await createLineAssertion(key, { channelId: "1234567890", kid: "my-kid" });
 * ```
 *
 * @module
 */
export { KagiyaError, InvalidInputError, KeyError, JwsFormatError } from "./errors.ts";
export { encodeBase64url, decodeBase64url, isBase64url } from "./base64url.ts";
export { parseDuration, formatDuration } from "./duration.ts";
export { generateAssertionKeyPair, type GeneratedKeyPair, type GenerateKeyOptions } from "./keys/generate.ts";
export { importAssertionKey, importVerifyKey, type AssertionKey, type VerifyKey, type ImportKeyOptions } from "./keys/import.ts";
export { parseKey, type KeyInput, type ParsedKey } from "./keys/parse.ts";
export { lintKey, type KeyLintOptions, type KeyLintResult } from "./keys/lint.ts";
export { jwkThumbprint } from "./keys/thumbprint.ts";
export { webCryptoRsa, preferRsaBackend, defaultRsaBackend, type RsaBackend, type RsaSignFn, type RsaVerifyFn } from "./keys/backend.ts";
export type { Jwk, RsaPublicJwk, RsaPrivateJwk } from "./keys/types.ts";
export { createLineAssertion, type LineAssertionOptions } from "./jwt/assertion.ts";
export { signJws } from "./jwt/sign.ts";
export { verifyJws, type JwsVerification } from "./jwt/verify.ts";
export { inspectJws, type InspectOptions, type InspectResult } from "./jwt/inspect.ts";
export * as lineRules from "./jwt/line-rules.ts";
export { createWorksAssertion, checkServiceAccount, checkWorksClientId, parseWorksScopes, type WorksAssertionOptions } from "./jwt/works-assertion.ts";
export * as worksRules from "./jwt/works-rules.ts";
export { KEY_FINDING_CODES, JWT_FINDING_CODES, type KeyFinding, type JwtFinding, type KeyFindingCode, type JwtFindingCode } from "./findings.ts";
export { signWebhookBody, verifyWebhookSignature } from "./webhook/signature.ts";
export { signWorksBody, verifyWorksSignature, WORKS_SIGNATURE_HEADER, WORKS_BOT_ID_HEADER } from "./webhook/works-signature.ts";
