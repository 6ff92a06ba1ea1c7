import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { signWebhookBody, timingSafeEqualString, verifyWebhookSignature, base64 } from "../../src/core/webhook/signature.ts";
import { verifyWebhookSignatureSync } from "../../src/webhook/adapters/node-signature.ts";
import { DOCS_VECTOR } from "./fixtures.ts";

test("signWebhookBody reproduces LINE's documented test vector", async () => {
  assert.equal(await signWebhookBody(DOCS_VECTOR.secret, DOCS_VECTOR.body), DOCS_VECTOR.signature);
});

test("both verifiers accept the docs vector and refuse it with any other secret or body", async () => {
  const body = new TextEncoder().encode(DOCS_VECTOR.body);
  assert.equal(await verifyWebhookSignature(DOCS_VECTOR.secret, body, DOCS_VECTOR.signature), true);
  assert.equal(verifyWebhookSignatureSync(DOCS_VECTOR.secret, body, DOCS_VECTOR.signature), true);
  const other = DOCS_VECTOR.secret.replace("8c", "8d");
  assert.equal(await verifyWebhookSignature(other, body, DOCS_VECTOR.signature), false);
  assert.equal(verifyWebhookSignatureSync(other, body, DOCS_VECTOR.signature), false);
  // A re-serialized body (spaces added) is a different byte string: refused.
  const reserialized = JSON.stringify(JSON.parse(DOCS_VECTOR.body), null, 1);
  assert.equal(await verifyWebhookSignature(DOCS_VECTOR.secret, reserialized, DOCS_VECTOR.signature), false);
  assert.equal(verifyWebhookSignatureSync(DOCS_VECTOR.secret, new TextEncoder().encode(reserialized), DOCS_VECTOR.signature), false);
});

test("signatures of the wrong length, missing or non-ASCII are refused without throwing", async () => {
  const body = new TextEncoder().encode(DOCS_VECTOR.body);
  for (const sig of [undefined, null, "", DOCS_VECTOR.signature.slice(0, -1), DOCS_VECTOR.signature + "=", DOCS_VECTOR.signature.replace("=", ""), "é".repeat(44), " " + DOCS_VECTOR.signature.slice(1)]) {
    assert.equal(await verifyWebhookSignature(DOCS_VECTOR.secret, body, sig), false, String(sig));
    assert.equal(verifyWebhookSignatureSync(DOCS_VECTOR.secret, body, sig), false, String(sig));
  }
  assert.equal(await verifyWebhookSignature("", body, DOCS_VECTOR.signature), false);
  assert.equal(verifyWebhookSignatureSync("", body, DOCS_VECTOR.signature), false);
});

test("WebCrypto and node:crypto verifiers agree on 300 random bodies and base64 matches Buffer's", async () => {
  for (let i = 0; i < 300; i++) {
    const body = randomBytes(i * 7);
    const secret = randomBytes(16).toString("hex");
    const sig = await signWebhookBody(secret, body);
    assert.equal(sig, Buffer.from(await crypto.subtle.sign("HMAC", await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]), body)).toString("base64"));
    assert.equal(verifyWebhookSignatureSync(secret, body, sig), true);
    assert.equal(await verifyWebhookSignature(secret, body, sig), true);
    assert.equal(base64(body), body.toString("base64"));
  }
});

test("timingSafeEqualString compares content and guards length", () => {
  assert.equal(timingSafeEqualString("abc", "abc"), true);
  assert.equal(timingSafeEqualString("abc", "abd"), false);
  assert.equal(timingSafeEqualString("abc", "abcd"), false);
  assert.equal(timingSafeEqualString("", ""), true);
});
