// The emulator's LINE Login endpoints on their own terms, over raw HTTP (no kagiya client):
// authorize refusals, code exchange checks (PKCE, redirect_uri, single use, lifetime), ID token
// verification, JWKS, the bearer-protected profile, and the control route.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { emulatorJson, startTestEmulator, type TestEmulator } from "../helpers/emulator.ts";

const REDIRECT = "http://127.0.0.1:53682/callback";

describe("emulator: LINE Login", () => {
  let emu: TestEmulator;
  let ch: { channelId: string; channelSecret: string };

  before(async () => {
    emu = await startTestEmulator();
    ch = (await emulatorJson(emu.url, "POST", "/__emulator/channels", {})).body;
  });
  after(() => emu.close());

  async function authorize(params: Record<string, string>): Promise<{ status: number; location: URL | undefined; body: string }> {
    const res = await fetch(`${emu.url}/oauth2/v2.1/authorize?${new URLSearchParams(params)}`, { redirect: "manual" });
    const location = res.headers.get("location");
    return { status: res.status, location: location ? new URL(location) : undefined, body: await res.text() };
  }

  async function token(form: Record<string, string>): Promise<{ status: number; body: any }> {
    const res = await fetch(`${emu.url}/oauth2/v2.1/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form).toString() });
    return { status: res.status, body: await res.json() };
  }

  /** Logs in with PKCE; returns the code and the verifier. */
  async function code(extra: Record<string, string> = {}): Promise<{ code: string; verifier: string }> {
    const verifier = randomBytes(32).toString("base64url");
    const r = await authorize({
      response_type: "code", client_id: ch.channelId, redirect_uri: REDIRECT, state: "s1", scope: "profile openid", nonce: "n1",
      code_challenge: createHash("sha256").update(verifier).digest("base64url"), code_challenge_method: "S256", ...extra,
    });
    assert.equal(r.status, 302);
    assert.equal(r.location!.searchParams.get("state"), "s1");
    return { code: r.location!.searchParams.get("code")!, verifier };
  }

  const exchange = (c: string, verifier: string, over: Record<string, string> = {}) =>
    token({ grant_type: "authorization_code", code: c, redirect_uri: REDIRECT, client_id: ch.channelId, client_secret: ch.channelSecret, code_verifier: verifier, ...over });

  test("authorize: an unknown client is answered, not redirected; later problems are redirected with the state", async () => {
    const unknown = await authorize({ response_type: "code", client_id: "999", redirect_uri: REDIRECT, state: "s", scope: "profile" });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.location, undefined);
    const base = { response_type: "code", client_id: ch.channelId, redirect_uri: REDIRECT, state: "s", scope: "profile" };
    for (const [over, error] of [[{ scope: "admin" }, "invalid_scope"], [{ response_type: "token" }, "unsupported_response_type"], [{ code_challenge: "x", code_challenge_method: "plain" }, "invalid_request"]] as const) {
      const r = await authorize({ ...base, ...over });
      assert.equal(r.status, 302);
      assert.equal(r.location!.searchParams.get("error"), error);
      assert.equal(r.location!.searchParams.get("state"), "s");
    }
    const noState = await authorize({ ...base, state: "" });
    assert.equal(noState.location!.searchParams.get("error"), "invalid_request");
  });

  test("token: wrong verifier, wrong redirect_uri and wrong secret are refused; the code then still works once", async () => {
    const { code: c, verifier } = await code();
    assert.equal((await exchange(c, "not-the-verifier")).body.error, "invalid_grant");
    assert.equal((await exchange(c, verifier, { redirect_uri: "http://127.0.0.1:1/other" })).body.error, "invalid_grant");
    assert.equal((await exchange(c, verifier, { client_secret: "wrong" })).body.error, "invalid_client");
    const ok = await exchange(c, verifier);
    assert.equal(ok.status, 200);
    assert.deepEqual(Object.keys(ok.body).sort(), ["access_token", "expires_in", "id_token", "refresh_token", "scope", "token_type"]);
    assert.equal(ok.body.expires_in, 2_592_000);
  });

  test("a replayed code is invalid_grant and revokes the tokens it gave", async () => {
    const { code: c, verifier } = await code();
    const first = await exchange(c, verifier);
    const replay = await exchange(c, verifier);
    assert.deepEqual([replay.status, replay.body.error], [400, "invalid_grant"]);
    const v = await emulatorJson(emu.url, "GET", `/oauth2/v2.1/verify?access_token=${encodeURIComponent(first.body.access_token)}`);
    assert.equal(v.status, 400);
  });

  test("a code expires after 10 minutes on the emulator clock", async () => {
    const { code: c, verifier } = await code();
    await emulatorJson(emu.url, "POST", "/__emulator/clock", { advanceSeconds: 601 });
    try {
      assert.equal((await exchange(c, verifier)).body.error, "invalid_grant");
    } finally {
      await emulatorJson(emu.url, "POST", "/__emulator/clock", { offsetSeconds: 0 });
    }
  });

  test("verify an ID token: claims when right; nonce, user_id and audience checked", async () => {
    const { code: c, verifier } = await code();
    const { id_token } = (await exchange(c, verifier)).body;
    const verify = async (form: Record<string, string>) => {
      const res = await fetch(`${emu.url}/oauth2/v2.1/verify`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form).toString() });
      return { status: res.status, body: await res.json() as any };
    };
    const good = await verify({ id_token, client_id: ch.channelId, nonce: "n1" });
    assert.equal(good.status, 200);
    assert.equal(good.body.iss, "https://access.line.me");
    assert.equal(good.body.aud, ch.channelId);
    assert.equal(good.body.name, "Test User");
    assert.equal((await verify({ id_token, client_id: ch.channelId, nonce: "other" })).status, 400);
    assert.equal((await verify({ id_token, client_id: ch.channelId, user_id: "Uffff" })).status, 400);
    const other = (await emulatorJson(emu.url, "POST", "/__emulator/channels", {})).body;
    assert.equal((await verify({ id_token, client_id: other.channelId })).status, 400);
  });

  test("JWKS publishes one ES256 P-256 key; profile needs a live bearer token", async () => {
    const jwks = (await emulatorJson(emu.url, "GET", "/oauth2/v2.1/certs")).body;
    assert.equal(jwks.keys.length, 1);
    assert.deepEqual([jwks.keys[0].kty, jwks.keys[0].crv, jwks.keys[0].alg, "d" in jwks.keys[0]], ["EC", "P-256", "ES256", false]);
    const none = await fetch(`${emu.url}/v2/profile`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get("www-authenticate") ?? "", /invalid_token/);
    await none.body?.cancel();
  });

  test("control: bad settings are refused", async () => {
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/line-login", { channelId: "nope" })).status, 404);
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/line-login", { channelId: ch.channelId, idTokenAlg: "RS256" })).status, 400);
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/line-login", { channelId: ch.channelId, deny: "yes" })).status, 400);
  });
});
