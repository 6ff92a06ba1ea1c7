/**
 * kagiya: the credential lifecycle of a LINE bot backend.
 * Public library API; each area is documented in its own module.
 */
export { KagiyaError, InvalidInputError, KeyError, JwsFormatError } from "./core/errors.ts";

// --- core: keys and JWT (issue 2) ---
import { preferRsaBackend } from "./core/keys/backend.ts";
import { nodeRsa } from "./node/rsa.ts";
// On Node, sign and verify with node:crypto KeyObjects (faster than WebCrypto's thread-pool hop).
preferRsaBackend(nodeRsa);
export { encodeBase64url, decodeBase64url, isBase64url } from "./core/base64url.ts";
export { parseDuration, formatDuration } from "./core/duration.ts";
export { importAssertionKey, importVerifyKey, type AssertionKey, type VerifyKey, type ImportKeyOptions } from "./core/keys/import.ts";
export { parseKey, type KeyInput, type ParsedKey } from "./core/keys/parse.ts";
export { jwkThumbprint } from "./core/keys/thumbprint.ts";
export { webCryptoRsa, preferRsaBackend, defaultRsaBackend, type RsaBackend } from "./core/keys/backend.ts";
export { nodeRsa } from "./node/rsa.ts";
export type { Jwk, RsaPublicJwk, RsaPrivateJwk } from "./core/keys/types.ts";
export { createLineAssertion, type LineAssertionOptions } from "./core/jwt/assertion.ts";
export { createWorksAssertion, checkServiceAccount, checkWorksClientId, parseWorksScopes, type WorksAssertionOptions } from "./core/jwt/works-assertion.ts";
export * as worksRules from "./core/jwt/works-rules.ts";
export { signWorksBody, verifyWorksSignature, WORKS_SIGNATURE_HEADER, WORKS_BOT_ID_HEADER } from "./core/webhook/works-signature.ts";
export { signJws } from "./core/jwt/sign.ts";
export * as lineRules from "./core/jwt/line-rules.ts";
export { generateAssertionKeyPair, type GeneratedKeyPair, type GenerateKeyOptions } from "./core/keys/generate.ts";
export { lintKey, type KeyLintOptions, type KeyLintResult } from "./core/keys/lint.ts";
export { verifyJws, type JwsVerification } from "./core/jwt/verify.ts";
export { inspectJws, type InspectOptions, type InspectResult } from "./core/jwt/inspect.ts";
export { KEY_FINDING_CODES, JWT_FINDING_CODES, type KeyFinding, type JwtFinding, type KeyFindingCode, type JwtFindingCode } from "./core/findings.ts";
// --- end core ---

// --- LINE client, stores and sealing, token lifecycle, webhooks (issues 4 and 5) ---
// The server (`kagiya/server`), the emulator (`kagiya/emulator`), the Node webhook adapters
// (`kagiya/webhook/node`) and the @line/bot-sdk adapter (`kagiya/adapters/bot-sdk`) have
// subpath entries of their own so that importing "kagiya" never loads node:http or the SDK.
export * from "./clients/line/index.ts";
export * from "./store/index.ts";
export * from "./tokens/index.ts";
export * from "./webhook/index.ts";
