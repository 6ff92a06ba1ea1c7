// A full scenario through every part of the server, then every log line, audit row and metrics
// line is searched for every secret the scenario touched.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { request, startTestBroker } from "./helpers.ts";
import { deliverTestWebhook, sentMessages, tokenLedger } from "../helpers/emulator.ts";
import { createAdminToken } from "../../src/server/admin.ts";

test("no token, assertion, private key member, channel secret, API key, admin token or signature in logs, audit or metrics", async () => {
  const envAdmin = "env-admin-" + "s".repeat(30);
  const t = await startTestBroker({ channels: 2, server: { adminToken: envAdmin, scheduler: { tickMs: 50 } } });
  try {
    const [a, b] = t.channels;
    const secrets = new Map<string, string>();
    const storedAdmin = await createAdminToken(t.store);
    secrets.set("admin token (stored)", storedAdmin);
    secrets.set("admin token (env)", envAdmin);
    secrets.set("master key", t.masterKey);
    for (const ch of t.channels) {
      secrets.set(`channel secret ${ch.channelId}`, ch.channelSecret);
      for (const m of ["d", "p", "q", "dp", "dq", "qi"] as const) secrets.set(`private key ${m}`, (ch.privateJwk as Record<string, string>)[m]!);
    }

    // Admin login (both tokens), API keys through the dashboard, tokens through the API.
    const login = await fetch(`${t.url}/ui/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: storedAdmin }) });
    assert.equal(login.status, 200);
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    secrets.set("session cookie", cookie.split("=")[1]!);
    secrets.set("csrf token", csrfToken);
    assert.equal((await request(`${t.url}/ui/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: envAdmin }) })).status, 200);
    await request(`${t.url}/ui/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: "wrong-" + storedAdmin }) });
    const h = { cookie, "x-csrf-token": csrfToken, "content-type": "application/json" };
    const created = await request(`${t.url}/ui/api/apikeys`, { method: "POST", headers: h, body: JSON.stringify({ channels: [a!.channelId, b!.channelId], name: "svc" }) });
    assert.equal(created.status, 201);
    const key: string = created.body.key;
    secrets.set("API key", key);
    for (const ch of t.channels) {
      const r = await request(`${t.url}/v1/channels/${ch.channelId}/token`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(r.status, 200);
    }
    // Dashboard actions: issue, reconcile, revoke.
    const issued = await request(`${t.url}/ui/api/channels/${a!.channelId}/issue`, { method: "POST", headers: h, body: "{}" });
    assert.equal(issued.status, 200);
    assert.equal((await request(`${t.url}/ui/api/channels/${a!.channelId}/reconcile`, { method: "POST", headers: h, body: "{}" })).status, 200);
    assert.equal((await request(`${t.url}/ui/api/channels/${a!.channelId}/revoke`, { method: "POST", headers: h, body: JSON.stringify({ keyId: issued.body.keyId }) })).status, 200);
    // Webhooks: a good delivery answered by the bot, a forged one.
    const d = await deliverTestWebhook(t.emu.url, { channelId: b!.channelId, url: `${t.url}/webhook/${b!.channelId}`, events: [{ type: "message", message: { type: "text", id: "1", text: "hi" } }] });
    assert.equal(d.status, 200);
    secrets.set("webhook signature", d.signature);
    const forged = createHmac("sha256", "not-the-secret").update(d.body).digest("base64");
    secrets.set("forged signature", forged);
    await request(`${t.url}/webhook/${b!.channelId}`, { method: "POST", body: d.body, headers: { "x-line-signature": forged } });
    await t.broker.drainWebhooks();
    assert.equal((await sentMessages(t.emu.url, b!.channelId)).length, 1);
    // Revoke the API key; use it once more.
    assert.equal((await request(`${t.url}/ui/api/apikeys/${created.body.id}/revoke`, { method: "POST", headers: h, body: "{}" })).status, 200);
    assert.equal((await request(`${t.url}/v1/channels/${a!.channelId}/token`, { headers: { authorization: `Bearer ${key}` } })).status, 401);

    for (const ch of t.channels) {
      for (const row of await tokenLedger(t.emu.url, ch.channelId)) secrets.set(`access token ${row.key_id}`, row.access_token);
    }
    const metrics = (await request(`${t.url}/metrics`)).text;
    const audit = JSON.stringify(await t.store.listAudit({ limit: 1000 }));
    const logs = t.logs.join("\n");
    assert.ok(t.logs.length > 10, "the scenario logged");
    for (const [name, secret] of secrets) {
      assert.ok(secret.length >= 16, name);
      for (const [where, text] of [["logs", logs], ["audit", audit], ["metrics", metrics]] as const) {
        assert.ok(!text.includes(secret), `${name} appears in ${where}`);
      }
    }
    // No JWT (an assertion or a JWT-shaped token) anywhere either.
    for (const text of [logs, audit, metrics]) assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./);
    // Every audited action the issue names happened and was recorded.
    const actions = new Set((JSON.parse(audit) as Array<{ action: string }>).map((r) => r.action));
    for (const action of ["apikey.create", "apikey.use", "apikey.revoke", "admin.login", "webhook.reject", "token.revoke", "token.reconcile"]) {
      assert.ok(actions.has(action), `audit has ${action}: ${[...actions].join(",")}`);
    }
    assert.ok([...actions].some((x) => x.startsWith("token.issue")), [...actions].join(","));
  } finally {
    await t.close();
  }
});
