import { test } from "node:test";
import assert from "node:assert/strict";
import { importAssertionKey } from "../../src/core/keys/import.ts";
import { createLineAssertion } from "../../src/core/jwt/assertion.ts";
import { decodeBase64urlText } from "../../src/core/base64url.ts";
import { InvalidInputError } from "../../src/core/errors.ts";
import { parseDuration } from "../../src/core/duration.ts";
import { vector } from "./vectors.ts";

const key = await importAssertionKey(vector("line-docs-pyjwt").privateJwk);
const NOW = 1_700_000_000_123;

function parts(jwt: string): { header: string; payload: string } {
  const [h, p] = jwt.split(".");
  return { header: decodeBase64urlText(h!), payload: decodeBase64urlText(p!) };
}

test("createLineAssertion builds LINE's exact header and payload with integer NumericDates", async () => {
  const jwt = await createLineAssertion(key, { channelId: "1234567890", kid: "9869e446-3489-4516-a83f-ec9214ad94d0", now: NOW });
  const { header, payload } = parts(jwt);
  assert.equal(header, '{"alg":"RS256","typ":"JWT","kid":"9869e446-3489-4516-a83f-ec9214ad94d0"}');
  assert.equal(payload, '{"iss":"1234567890","sub":"1234567890","aud":"https://api.line.me/","exp":1700000300,"token_exp":2592000}');
  assert.match(jwt, /^[\w-]+\.[\w-]+\.[\w-]{342}$/);
  const [h, p, s] = jwt.split(".");
  const sig = Uint8Array.from(atob(s!.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  assert.ok(await key.verify(new TextEncoder().encode(`${h}.${p}`), sig));
});

test("createLineAssertion honours expiresIn, tokenExp and an injected clock", async () => {
  const jwt = await createLineAssertion(key, { channelId: "1", kid: "k", expiresIn: 1800, tokenExp: 86400, now: 5_999 });
  assert.equal(parts(jwt).payload, '{"iss":"1","sub":"1","aud":"https://api.line.me/","exp":1805,"token_exp":86400}');
});

test("createLineAssertion refuses out-of-range lifetimes naming the limit, never clamping", async () => {
  const cases: Array<[Record<string, number>, RegExp]> = [
    [{ expiresIn: 1801 }, /1800/],
    [{ expiresIn: 0 }, /1 to 1800/],
    [{ expiresIn: 1.5 }, /whole number/],
    [{ tokenExp: 2592001 }, /2592000/],
    [{ tokenExp: -1 }, /1 to 2592000/],
  ];
  for (const [extra, message] of cases) {
    await assert.rejects(createLineAssertion(key, { channelId: "1", kid: "k", now: NOW, ...extra }), (e: unknown) => e instanceof InvalidInputError && e.code === "ERR_OUT_OF_RANGE" && message.test(e.message));
  }
  await assert.rejects(createLineAssertion(key, { channelId: "", kid: "k" }), InvalidInputError);
  await assert.rejects(createLineAssertion(key, { channelId: "1", kid: "a b" }), InvalidInputError);
});

test("parseDuration reads s, m, h, d and plain seconds, and refuses anything else", () => {
  assert.equal(parseDuration("5m"), 300);
  assert.equal(parseDuration("30d"), 2592000);
  assert.equal(parseDuration("2h"), 7200);
  assert.equal(parseDuration("45s"), 45);
  assert.equal(parseDuration("90"), 90);
  for (const bad of ["", "5 m", "1.5h", "-5m", "5w", "m", "5mm"]) assert.throws(() => parseDuration(bad, "--expires-in"), InvalidInputError);
});
