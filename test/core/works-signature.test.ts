// X-WORKS-Signature: base64(HMAC-SHA256(Bot Secret, raw body)), checked against node:crypto's HMAC.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { signWorksBody, verifyWorksSignature } from "../../src/core/webhook/works-signature.ts";

const SECRET = "bot-secret-0123456789abcdef";
const BODY = '{"type":"message","source":{"userId":"u1","domainId":10000001},"issuedTime":"2022-01-04T05:16:05.716Z","content":{"type":"text","text":"こんにちは"}}';

test("signWorksBody equals node:crypto's base64 HMAC-SHA256 over the UTF-8 bytes", async () => {
  const expected = createHmac("sha256", SECRET).update(Buffer.from(BODY, "utf8")).digest("base64");
  assert.equal(await signWorksBody(SECRET, BODY), expected);
  assert.equal(await signWorksBody(SECRET, new TextEncoder().encode(BODY)), expected);
  for (let i = 0; i < 50; i++) {
    const body = randomBytes(i * 7);
    assert.equal(await signWorksBody(SECRET, body), createHmac("sha256", SECRET).update(body).digest("base64"));
  }
});

test("verifyWorksSignature accepts the right signature and refuses another bot's, a changed body and malformed values", async () => {
  const body = new TextEncoder().encode(BODY);
  const good = createHmac("sha256", SECRET).update(body).digest("base64");
  assert.equal(await verifyWorksSignature(SECRET, body, good), true);
  assert.equal(await verifyWorksSignature("another-bot-secret", body, good), false);
  assert.equal(await verifyWorksSignature(SECRET, BODY.replace("こんにちは", "こんばんは"), good), false);
  assert.equal(await verifyWorksSignature(SECRET, JSON.stringify(JSON.parse(BODY), null, 1), good), false);
  for (const sig of [undefined, null, "", good.slice(0, -1), good + "=", good.replace(/[+/]/g, (c) => (c === "+" ? "-" : "_")) === good ? "x".repeat(44) : good.replace(/[+/]/g, (c) => (c === "+" ? "-" : "_"))]) {
    assert.equal(await verifyWorksSignature(SECRET, body, sig), false, String(sig));
  }
  assert.equal(await verifyWorksSignature("", body, good), false);
});
