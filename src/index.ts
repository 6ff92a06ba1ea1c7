/**
 * kagiya: the credential lifecycle of a LINE bot backend. This root entry is the deliberate
 * surface a user starts from: keys, JWT, errors, and the few entry points (the LINE client, the
 * token context and manager, the store and channel registry, the webhook handler and bots).
 * Each area has its own subpath with the rest (`kagiya/core`, `kagiya/clients/line`,
 * `kagiya/store`, `kagiya/tokens`, `kagiya/webhook`, `kagiya/webhook/node`, `kagiya/server`,
 * `kagiya/emulator`, `kagiya/adapters/bot-sdk`); `api/exports.json` lists every name.
 *
 * Importing this module has no side effects and loads no store driver (node:sqlite, ioredis, pg),
 * logger or metrics client: a store's driver loads when the store is opened.
 *
 * @example
 * ```ts
 * import { createLineAssertion, generateAssertionKeyPair, importAssertionKey, nodeRsa } from "kagiya";
 * const { privateJwk } = await generateAssertionKeyPair();
 * const key = await importAssertionKey(privateJwk, { backend: nodeRsa }); // node:crypto; default WebCrypto
 * const jwt = await createLineAssertion(key, { channelId: "1234567890", kid: "my-kid" });
 * ```
 *
 * @module
 */

// --- keys and JWT (the web-standard core) ---
export {
  generateAssertionKeyPair,
  importAssertionKey,
  importVerifyKey,
  parseKey,
  lintKey,
  jwkThumbprint,
  webCryptoRsa,
  createLineAssertion,
  createWorksAssertion,
  signJws,
  verifyJws,
  inspectJws,
  lineRules,
  KEY_FINDING_CODES,
  JWT_FINDING_CODES,
  signWebhookBody,
  verifyWebhookSignature,
  verifyWorksSignature,
  type WorksAssertionOptions,
  type GeneratedKeyPair,
  type GenerateKeyOptions,
  type AssertionKey,
  type VerifyKey,
  type ImportKeyOptions,
  type KeyInput,
  type ParsedKey,
  type KeyLintOptions,
  type KeyLintResult,
  type RsaBackend,
  type Jwk,
  type RsaPublicJwk,
  type RsaPrivateJwk,
  type LineAssertionOptions,
  type JwsVerification,
  type InspectOptions,
  type InspectResult,
  type KeyFinding,
  type JwtFinding,
  type KeyFindingCode,
  type JwtFindingCode,
} from "./core/index.ts";
// On Node, RS256 through node:crypto: pass `{ backend: nodeRsa }` to the key imports.
export { nodeRsa } from "./node/rsa.ts";

// --- errors: every class a caller may catch, each with a stable `code` ---
export { KagiyaError, InvalidInputError, KeyError, JwsFormatError } from "./core/errors.ts";
export {
  LineError,
  LineApiError,
  LineNetworkError,
  LineTimeoutError,
  LineAbortedError,
  LineBadResponseError,
  LineIssueAmbiguousError,
  type LineErrorCode,
} from "./clients/line/errors.ts";
export { StoreError, MasterKeyError, SealedValueError, ChannelNotFoundError } from "./store/errors.ts";
export { TokenUnavailableError, TokenBudgetExhaustedError, TokenNotFoundError } from "./tokens/errors.ts";
export { WebhookConfigError, WebhookBodyConsumedError, BotSendError } from "./webhook/errors.ts";

// --- entry points ---
export { createLineClient, type LineClient, type LineClientOptions } from "./clients/line/index.ts";
export { openStore, type OpenStoreOptions } from "./store/open.ts";
export type { Store } from "./store/types.ts";
export { MasterKey, Sealer, generateMasterKeyText } from "./store/sealed.ts";
export { ChannelRegistry, type Channel, type ChannelInput } from "./store/registry.ts";
export { openTokenContext, TokenManager, type TokenContext, type TokenContextOptions, type TokenManagerOptions, type ManagedToken, type TokenSource } from "./tokens/index.ts";
export { createWebhookHandler, createBot, type WebhookHandler, type WebhookHandlerOptions, type Bot, type BotContext, type BotOptions } from "./webhook/index.ts";
