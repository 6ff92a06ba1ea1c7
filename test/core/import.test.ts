import { test } from "node:test";
import assert from "node:assert/strict";
import { importAssertionKey, importVerifyKey } from "../../src/core/keys/import.ts";
import { webCryptoRsa } from "../../src/core/keys/backend.ts";
import { nodeRsa } from "../../src/node/rsa.ts";
import { signJws } from "../../src/core/jwt/sign.ts";
import { KeyError } from "../../src/core/errors.ts";
import { keyText, privateValues, vector } from "./vectors.ts";

const pyjwt = vector("line-docs-pyjwt");

async function refusal(input: Parameters<typeof importAssertionKey>[0]): Promise<KeyError> {
  try {
    await importAssertionKey(input);
  } catch (error) {
    assert.ok(error instanceof KeyError, `expected KeyError, got ${String(error)}`);
    return error;
  }
  assert.fail("import succeeded");
}

test("importAssertionKey accepts a JWK object, JWK text and PEM (PKCS #8 and PKCS #1) alike", async () => {
  const fromObject = await importAssertionKey(pyjwt.privateJwk);
  const fromText = await importAssertionKey(JSON.stringify(pyjwt.privateJwk));
  assert.equal(fromObject.thumbprint, fromText.thumbprint);
  const jwk = await importAssertionKey(keyText("rsa2048.private.jwk.json"));
  const pkcs8 = await importAssertionKey(keyText("rsa2048.pkcs8.pem"));
  const pkcs1 = await importAssertionKey(keyText("rsa2048.pkcs1.pem"));
  assert.equal(pkcs8.thumbprint, jwk.thumbprint);
  assert.equal(pkcs1.thumbprint, jwk.thumbprint);
  assert.deepEqual(Object.keys(jwk.publicJwk), ["kty", "alg", "use", "n", "e"]);
});

test("both backends produce the same deterministic RS256 signature (RFC 7515 A.2)", async () => {
  const a2 = vector("rfc7515-a2");
  for (const backend of [nodeRsa, webCryptoRsa]) {
    const key = await importAssertionKey(a2.privateJwk, { backend });
    assert.equal(key.backend, backend.name);
    assert.equal(await signJws(key, a2.header, a2.payload), a2.jws);
  }
});

test("an imported key holds no private member in any enumerable property", async () => {
  const key = await importAssertionKey(pyjwt.privateJwk);
  const shown = JSON.stringify(key) + String(Object.values(key));
  for (const secret of privateValues(pyjwt.privateJwk)) assert.ok(!shown.includes(secret));
});

test("importAssertionKey refuses EC, oct, Ed25519, 1024- and 4096-bit keys with typed codes", async () => {
  const cases: Array<[string, string]> = [
    ["ec-p256.private.jwk.json", "ERR_KEY_TYPE"],
    ["ec-p256.private.pem", "ERR_KEY_TYPE"],
    ["ec-p256.sec1.pem", "ERR_KEY_TYPE"],
    ["ed25519.private.pem", "ERR_KEY_TYPE"],
    ["oct.jwk.json", "ERR_KEY_TYPE"],
    ["rsa1024.private.jwk.json", "ERR_KEY_SIZE"],
    ["rsa1024.private.pem", "ERR_KEY_SIZE"],
    ["rsa4096.private.jwk.json", "ERR_KEY_SIZE"],
    ["rsa4096.private.pem", "ERR_KEY_SIZE"],
    ["rsa2048.spki.pem", "ERR_KEY_NOT_PRIVATE"],
    ["rsa2048.encrypted.pem", "ERR_KEY_PARSE"],
  ];
  for (const [file, code] of cases) {
    const error = await refusal(keyText(file));
    assert.equal(error.code, code, file);
    const text = keyText(file);
    const jwk = file.endsWith(".json") ? (JSON.parse(text) as Record<string, unknown>) : {};
    for (const secret of privateValues(jwk)) assert.ok(!error.message.includes(secret), `${file} leaks a private member`);
  }
  assert.match((await refusal(keyText("rsa1024.private.jwk.json"))).message, /1024-bit.*2048-bit/);
  assert.match((await refusal(keyText("oct.jwk.json"))).message, /kty "oct"/);
});

test("importAssertionKey refuses broken keys without quoting them", async () => {
  const d = pyjwt.privateJwk["d"] as string;
  const broken: Array<[Record<string, unknown> | string, string]> = [
    [{ ...pyjwt.privateJwk, d: d.slice(0, -4) + "AAAA" }, "ERR_KEY_MISMATCH"],
    [{ ...pyjwt.privateJwk, p: pyjwt.privateJwk["q"] }, "ERR_KEY_MISMATCH"],
    [{ ...pyjwt.privateJwk, qi: undefined }, "ERR_KEY_INVALID"],
    [{ ...pyjwt.privateJwk, d: d + "==" }, "ERR_KEY_INVALID"],
    [JSON.stringify(pyjwt.privateJwk).slice(0, 200), "ERR_KEY_PARSE"],
    ["", "ERR_KEY_PARSE"],
    ["not a key", "ERR_KEY_PARSE"],
    ["-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "ERR_KEY_PARSE"],
  ];
  for (const [input, code] of broken) {
    const error = await refusal(input);
    assert.equal(error.code, code, error.message);
    for (const secret of privateValues(pyjwt.privateJwk)) assert.ok(!error.message.includes(secret.slice(0, 12)), error.message);
  }
});

test("importVerifyKey takes the public half of a private key or a public PEM", async () => {
  const pub = await importVerifyKey(keyText("rsa2048.spki.pem"));
  const pkcs1 = await importVerifyKey(keyText("rsa2048.pkcs1-public.pem"));
  const priv = await importVerifyKey(keyText("rsa2048.private.jwk.json"));
  assert.equal(pub.thumbprint, priv.thumbprint);
  assert.equal(pkcs1.thumbprint, priv.thumbprint);
  assert.equal(pub.type, "public");
});
