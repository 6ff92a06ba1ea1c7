import assert from "node:assert/strict";
import { inspect } from "node:util";
import { after, before, test } from "node:test";
import { redactSecrets } from "../../../src/clients/line/index.ts";
import { clearFaults, injectFault } from "../../helpers/emulator.ts";
import { closeProxiedLineFixture, proxiedLineFixture, rejection, type LineFixture } from "./fixture.ts";
import type { TestProxy } from "./proxy.ts";

let fx: LineFixture;
let proxy: TestProxy;
before(async () => ({ fx, proxy } = await proxiedLineFixture()));
after(() => closeProxiedLineFixture(fx, proxy));

/** Every secret value the client was given or sent, as the proxy saw it. */
function secretsSeen(extra: string[]): string[] {
  const out = new Set(extra);
  for (const r of proxy.requests) {
    const params = new URLSearchParams(r.body.startsWith("{") ? "" : r.body);
    const query = new URLSearchParams(r.url.split("?")[1] ?? "");
    for (const p of [params, query]) {
      for (const name of ["client_assertion", "client_secret", "access_token"]) {
        const v = p.get(name);
        if (v) out.add(v);
      }
    }
    const auth = r.headers["authorization"];
    if (typeof auth === "string") out.add(auth.replace(/^Bearer /, ""));
  }
  return [...out].filter((s) => s.length >= 8);
}

test("no secret in any error message, JSON.stringify(error) or inspect(error), even when LINE echoes them", async () => {
  const { line: direct } = fx.client();
  const token = (await direct.issueChannelToken(fx.creds)).access_token;
  const secret = fx.channel.channelSecret;
  const privateD = String(fx.channel.privateJwk.d);
  // A LINE that quotes the request back in its error texts.
  proxy.rewrite = (req, res) => {
    if (req.url.startsWith("/__")) return undefined;
    const echoed = `${req.body} ${req.url} ${String(req.headers["authorization"] ?? "")}`;
    if (req.url.startsWith("/oauth2/v2.1/verify")) return { ...res, status: 400, body: JSON.stringify({ error: "invalid_request", error_description: `bad ${echoed}` }) };
    if (req.url === "/v2/bot/message/push") return { ...res, status: 400, body: JSON.stringify({ message: `bad ${echoed}`, details: [{ message: echoed, property: "to" }] }) };
    if (req.url === "/oauth2/v2.1/revoke" || req.url === "/oauth2/v2.1/token" || req.url === "/v2/oauth/accessToken") {
      return { ...res, status: 400, body: JSON.stringify({ error: "invalid_client", error_description: `bad ${echoed}`, message: echoed }) };
    }
    return undefined;
  };
  const { line } = fx.client({ baseUrl: proxy.url });
  const errors: unknown[] = [];
  errors.push(await rejection(line.issueChannelToken(fx.creds)));
  errors.push(await rejection(line.verifyChannelToken(token)));
  errors.push(await rejection(line.revokeChannelToken({ channelId: fx.channel.channelId, channelSecret: secret, accessToken: token })));
  errors.push(await rejection(line.issueShortLivedToken({ channelId: fx.channel.channelId, channelSecret: secret })));
  errors.push(await rejection(line.pushMessage(token, { to: "U0123", messages: [{ type: "text", text: "x" }] })));
  proxy.rewrite = undefined;
  // Failures of every other kind: 5xx, reset, truncation, timeout, invalid input holding a secret.
  await injectFault(fx.emu.url, { method: "POST", path: "/oauth2/v2.1/token", status: 503, count: 1 });
  errors.push(await rejection(line.issueChannelToken(fx.creds)));
  await injectFault(fx.emu.url, { method: "POST", path: "/oauth2/v2.1/token", truncate: true, count: 1 });
  errors.push(await rejection(direct.issueChannelToken(fx.creds)));
  await injectFault(fx.emu.url, { method: "POST", path: "/v2/oauth/accessToken", reset: true, count: 1 });
  errors.push(await rejection(line.issueShortLivedToken({ channelId: fx.channel.channelId, channelSecret: secret })));
  await injectFault(fx.emu.url, { method: "POST", path: "/v2/oauth/verify", delayMs: 1000, count: 1 });
  errors.push(await rejection(fx.client({ connectTimeoutMs: 200, retry: { maxAttempts: 1 } }).line.verifyShortLivedToken(token)));
  errors.push(await rejection(line.verifyChannelToken(`${token}\n`)));
  errors.push(await rejection(line.revokeChannelToken({ channelId: fx.channel.channelId, channelSecret: `${secret} x`, accessToken: token })));
  await clearFaults(fx.emu.url);

  const secrets = secretsSeen([token, secret, privateD]);
  assert.ok(secrets.some((s) => s.startsWith("eyJ")), "an assertion was captured");
  assert.ok(secrets.includes(secret) && secrets.includes(token));
  assert.equal(errors.length, 11);
  for (const e of errors) {
    assert.ok(e instanceof Error);
    const views = [e.message, String(e.stack), JSON.stringify(e), inspect(e, { depth: 10 })];
    for (const view of views) {
      for (const s of secrets) assert.ok(!view.includes(s), `${(e as { code?: string }).code}: a secret (${s.slice(0, 4)}…) leaked`);
    }
  }
  // LINE's texts were kept, with the secrets cut out.
  const first = errors[0] as { errorDescription?: string };
  assert.match(first.errorDescription ?? "", /^bad .*\[redacted\]/);
});

test("redactSecrets cuts given secrets and anything JWT-shaped, and bounds the length", () => {
  assert.equal(redactSecrets("a s3cr3t-value b", ["s3cr3t-value"]), "a [redacted] b");
  assert.equal(redactSecrets("jwt eyJhbGciOi.eyJpc3Mi.c2ln end", []), "jwt [redacted] end");
  assert.equal(redactSecrets("x".repeat(1000), []).length, 301);
});
