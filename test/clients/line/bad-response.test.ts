import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { LineBadResponseError } from "../../../src/clients/line/index.ts";
import { injectFault } from "../../helpers/emulator.ts";
import { closeProxiedLineFixture, proxiedLineFixture, rejection, resetProxiedLineFixture, type LineFixture } from "./fixture.ts";
import type { ProxiedResponse, TestProxy } from "./proxy.ts";

let fx: LineFixture;
let proxy: TestProxy;
before(async () => ({ fx, proxy } = await proxiedLineFixture()));
after(() => closeProxiedLineFixture(fx, proxy));
afterEach(() => resetProxiedLineFixture(fx, proxy));

/** Rewrites the JSON body of the real emulator answer to `path`. */
function mutateJson(path: string, f: (o: Record<string, unknown>) => unknown): void {
  proxy.rewrite = (req, res): ProxiedResponse | undefined =>
    req.url.split("?")[0] === path && res.status === 200 ? { ...res, body: JSON.stringify(f(JSON.parse(res.body))) } : undefined;
}

const ISSUE = "/oauth2/v2.1/token";
const issueCases: Array<[string, () => void, string]> = [
  ["missing key_id", () => mutateJson(ISSUE, ({ key_id: _k, ...o }) => o), "key_id"],
  ["empty key_id", () => mutateJson(ISSUE, (o) => ({ ...o, key_id: "" })), "key_id"],
  ["expires_in as a numeric string", () => mutateJson(ISSUE, (o) => ({ ...o, expires_in: String(o["expires_in"]) })), "expires_in"],
  ["expires_in fractional", () => mutateJson(ISSUE, (o) => ({ ...o, expires_in: 1.5 })), "expires_in"],
  ["token_type not Bearer", () => mutateJson(ISSUE, (o) => ({ ...o, token_type: "MAC" })), "token_type"],
  ["missing access_token", () => mutateJson(ISSUE, ({ access_token: _a, ...o }) => o), "access_token"],
  ["a JSON array", () => mutateJson(ISSUE, (o) => [o]), "body"],
  ["HTML", () => (proxy.rewrite = (req, res) => (req.url === ISSUE ? { ...res, headers: { ...res.headers, "content-type": "text/html" }, body: "<html><body>Service</body></html>" } : undefined)), "body"],
  ["truncated JSON (complete HTTP message)", () => (proxy.rewrite = (req, res) => (req.url === ISSUE ? { ...res, body: res.body.slice(0, 40) } : undefined)), "body"],
  ["a body over 1 MB", () => (proxy.rewrite = (req, res) => (req.url === ISSUE ? { ...res, body: res.body + " ".repeat(1024 * 1024) } : undefined)), "body"],
  ["an empty body", () => (proxy.rewrite = (req, res) => (req.url === ISSUE ? { ...res, body: "" } : undefined)), "body"],
];

describe("a 200 that is not what LINE documents is ERR_LINE_BAD_RESPONSE, never a half-filled result", () => {
  for (const [name, arrange, field] of issueCases) {
    test(`issue: ${name}`, async () => {
      arrange();
      let leaked = "";
      const prev = proxy.rewrite!;
      proxy.rewrite = (req, res) => {
        if (req.url === ISSUE) leaked = JSON.parse(res.body)["access_token"];
        return prev(req, res);
      };
      const { line, attempts } = fx.client({ baseUrl: proxy.url });
      const e = await rejection(line.issueChannelToken(fx.creds));
      assert.ok(e instanceof LineBadResponseError, String(e));
      assert.equal(e.code, "ERR_LINE_BAD_RESPONSE");
      assert.equal(e.field, field);
      assert.equal(e.status, 200);
      assert.equal(e.ambiguous, true);
      assert.equal(attempts.length, 1);
      assert.ok(leaked.length > 10);
      for (const text of [e.message, JSON.stringify(e)]) assert.ok(!text.includes(leaked), "the issued token must not appear in the error");
    });
  }

  test("verify: negative expires_in", async () => {
    const { line: issuer } = fx.client();
    const t = await issuer.issueChannelToken(fx.creds);
    mutateJson("/oauth2/v2.1/verify", (o) => ({ ...o, expires_in: -1 }));
    const { line } = fx.client({ baseUrl: proxy.url });
    const e = await rejection(line.verifyChannelToken(t.access_token));
    assert.ok(e instanceof LineBadResponseError);
    assert.equal(e.field, "expires_in");
  });

  test("valid key IDs: kids not an array, or holding a number", async () => {
    const { line } = fx.client({ baseUrl: proxy.url });
    mutateJson("/oauth2/v2.1/tokens/kid", () => ({ kids: "abc" }));
    assert.equal((await rejection(line.listValidKeyIds(fx.creds))).field, "kids");
    mutateJson("/oauth2/v2.1/tokens/kid", () => ({ kids: ["a", 7] }));
    assert.equal((await rejection(line.listValidKeyIds(fx.creds))).field, "kids[1]");
  });

  test("unknown extra fields are ignored, known ones kept", async () => {
    mutateJson(ISSUE, (o) => ({ ...o, brand_new_field: { x: 1 } }));
    const { line } = fx.client({ baseUrl: proxy.url });
    const t = await line.issueChannelToken(fx.creds);
    assert.deepEqual(Object.keys(t).sort(), ["access_token", "expires_in", "key_id", "token_type"]);
  });

  test("a body cut off mid-way on an idempotent call is re-sent; on issue it is not", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: "/oauth2/v2.1/tokens/kid", truncate: true, count: 1 });
    const { line, attempts } = fx.client();
    await line.listValidKeyIds(fx.creds);
    assert.deepEqual(attempts.map((a) => a.errorCode ?? "ok"), ["ERR_LINE_BAD_RESPONSE", "ok"]);
  });

  test("a body always cut off ends as ERR_LINE_BAD_RESPONSE after maxAttempts", async () => {
    await injectFault(fx.emu.url, { method: "GET", path: "/oauth2/v2.1/tokens/kid", truncate: true });
    const { line } = fx.client();
    const e = await rejection(line.listValidKeyIds(fx.creds));
    assert.ok(e instanceof LineBadResponseError);
    assert.equal(e.attempts, 4);
  });
});
