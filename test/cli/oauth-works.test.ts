// The LINE WORKS user-account preset end to end, through the real bin against the emulator's LINE
// WORKS login: `oauth add --preset line-works`, `oauth login` (the app's test user consents), a
// call to /v1.0/users/me with the token, a refresh past the refresh point with rotation on (the
// emulator's ledger: the old refresh token sent once and dead, the new one live), revoke.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { passRefreshPoint, startLogin } from "../helpers/oauth-cli.ts";
import { emulatorJson, startTestEmulator, type TestEmulator } from "../helpers/emulator.ts";
import { generateMasterKeyText } from "../../src/store/sealed.ts";

interface LedgerToken {
  token: string;
  type: "access" | "refresh";
  grant: string;
  uses: number;
  state: "valid" | "revoked" | "expired";
}

describe("the LINE WORKS user-account preset against the emulator", () => {
  let emu: TestEmulator;
  let dir: string;
  before(async () => {
    emu = await startTestEmulator();
    dir = mkdtempSync(join(tmpdir(), "kagiya-cli-works-oauth-"));
  });
  after(async () => {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("oauth add --preset line-works, login, fetch /v1.0/users/me, a rotated refresh, revoke", async () => {
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const created = await emulatorJson(emu.url, "POST", "/__emulator/works/apps", { publicKey: publicKey.export({ format: "jwk" }), rotation: true, scopes: ["user.read", "bot"] });
    assert.equal(created.status, 201);
    const { clientId, clientSecret } = created.body as { clientId: string; clientSecret: string };
    const env = { KAGIYA_MASTER_KEY: generateMasterKeyText(), KAGIYA_WORKS_AUTH_BASE: emu.url, WORKS_SECRET: clientSecret };
    const spec = `sqlite:${join(dir, "works.db")}`;
    const ledger = async (): Promise<LedgerToken[]> => (await emulatorJson(emu.url, "GET", `/__emulator/works/apps/${clientId}/tokens`)).body.tokens;

    const added = await runCli(["oauth", "add", "works", "--preset", "line-works", "--client-id", clientId, "--client-secret-env", "WORKS_SECRET", "--api-origin", emu.url, "--auth-param", "domain=10000001", "--store", spec, "--json"], { env });
    assert.equal(added.code, 0, added.stderr);
    const reg = JSON.parse(added.stdout);
    assert.equal(reg.issuer, "https://auth.worksmobile.com");
    assert.equal(reg.authMethod, "client_secret_post");

    const login = startLogin(["oauth", "login", "works", "--no-browser", "--store", spec], env);
    const url = new URL(await login.url);
    assert.equal(url.origin + url.pathname, `${emu.url}/oauth2/v2.0/authorize`);
    assert.equal(url.searchParams.get("scope"), "user.read");
    assert.equal(url.searchParams.get("domain"), "10000001");
    assert.equal(url.searchParams.get("code_challenge"), null, "LINE WORKS documents no PKCE: none sent");
    // The emulator's test user consents at once and the browser lands on kagiya's loopback listener.
    assert.equal((await fetch(url)).status, 200);
    const done = await login.done;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /logged in to works/);

    const me = await runCli(["oauth", "fetch", "works", `${emu.url}/v1.0/users/me`, "--store", spec], { env });
    assert.equal(me.code, 0, me.stderr);
    assert.equal(JSON.parse(me.stdout).userId, "10000001-test-user");
    const first = await ledger();
    assert.deepEqual(first.map((t) => [t.type, t.grant, t.state]), [["access", "authorization_code", "valid"], ["refresh", "authorization_code", "valid"]]);

    // The refresh point passes (moved in the store): the next call refreshes once, rotation on.
    await passRefreshPoint(spec, "works");
    const again = await runCli(["oauth", "fetch", "works", `${emu.url}/v1.0/users/me`, "--store", spec], { env });
    assert.equal(again.code, 0, again.stderr);
    const after = await ledger();
    const oldRefresh = after.find((t) => t.token === first[1]!.token)!;
    assert.equal(oldRefresh.uses, 1, "the first refresh token was sent once");
    assert.equal(oldRefresh.state, "revoked", "rotation on: the old refresh token died");
    const live = after.filter((t) => t.type === "refresh" && t.state === "valid");
    assert.equal(live.length, 1);
    assert.equal(live[0]!.uses, 0);

    const revoked = await runCli(["oauth", "revoke", "works", "--store", spec], { env });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((await ledger()).find((t) => t.token === live[0]!.token)!.state, "revoked", "the stored refresh token is revoked at LINE WORKS");
    for (const out of [added, done, me, again, revoked]) assert.ok(!out.stdout.includes(clientSecret) && !out.stderr.includes(clientSecret), "the client secret printed");
  });

  test("the emulator's authorize page: a scope the app has not enabled and another domain come back as errors; a code is taken once", async () => {
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const { body: app } = await emulatorJson(emu.url, "POST", "/__emulator/works/apps", { publicKey: publicKey.export({ format: "jwk" }), scopes: ["user.read"] });
    const authorize = (params: Record<string, string>) =>
      fetch(`${emu.url}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: app.clientId, redirect_uri: "http://127.0.0.1:9/cb", response_type: "code", state: "s1", ...params })}`, { redirect: "manual" });
    const location = async (params: Record<string, string>) => new URL((await authorize(params)).headers.get("location")!);
    assert.equal((await location({ scope: "calendar" })).searchParams.get("error"), "invalid_scope");
    assert.equal((await location({ scope: "user.read", domain: "999" })).searchParams.get("error"), "access_denied");
    assert.equal((await authorize({ scope: "user.read", client_id: "nope" })).status, 400, "an unknown client is shown, not redirected");
    const ok = await location({ scope: "user.read" });
    assert.equal(ok.searchParams.get("state"), "s1");
    const code = ok.searchParams.get("code")!;
    const exchange = () => fetch(`${emu.url}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "authorization_code", code, client_id: app.clientId, client_secret: app.clientSecret }) });
    const tokens = await exchange();
    assert.equal(tokens.status, 200);
    const { access_token, expires_in } = await tokens.json() as { access_token: string; expires_in: unknown };
    assert.equal(typeof expires_in, "string", "expires_in as a string, as LINE WORKS sends it");
    const replay = await exchange();
    assert.equal(replay.status, 400);
    assert.equal(((await replay.json()) as { error: string }).error, "invalid_grant");
    const me = await fetch(`${emu.url}/v1.0/users/me`, { headers: { authorization: `Bearer ${access_token}` } });
    assert.equal(me.status, 401, "the tokens of a code sent twice are revoked");
  });
});
