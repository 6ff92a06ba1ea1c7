// `kagiya oauth …` through the real bin against a real authorization server (oidc-provider) and the
// emulator's LINE Login: the seed 004 scenario end to end (log in once through the loopback
// listener, call a protected resource, the token's refresh point passes, the call refreshes, a new
// process calls again without a login), --manual, refusals that store nothing, revoke, the LINE Login
// preset, and bad input (one line, exit 2, nothing stored).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { passRefreshPoint, startLogin } from "../helpers/oauth-cli.ts";
import { headlessLogin, nativeClient, startOidcProvider, startResourceServer, type TestOidc, type TestResource } from "../helpers/oidc.ts";
import { emulatorJson, startTestEmulator, type TestEmulator } from "../helpers/emulator.ts";
import { generateMasterKeyText } from "../../src/store/sealed.ts";

const SECRET = "cli-client-secret-0123456789abcdef";
// The private_key_jwt client's key: oidc-provider holds the public half (kid k1), kagiya the private one.
const clientKey = generateKeyPairSync("ec", { namedCurve: "P-256" });
const PKJWT_CLIENT = {
  ...nativeClient("kagiya-pkjwt", "unused"), client_secret: undefined, token_endpoint_auth_method: "private_key_jwt",
  jwks: { keys: [{ ...clientKey.publicKey.export({ format: "jwk" }), kid: "k1", use: "sig", alg: "ES256" }] },
};
const masterKey = generateMasterKeyText();
let oidc: TestOidc;
let api: TestResource;
let dir: string;
let n = 0;

before(async () => {
  oidc = await startOidcProvider({
    // Long enough that no token expires in real time while a loaded machine runs the test: expiry is forced.
    accessTokenTtlS: 900,
    clients: [nativeClient("kagiya-cli", SECRET), PKJWT_CLIENT],
  });
  api = await startResourceServer(oidc);
  dir = mkdtempSync(join(tmpdir(), "kagiya-cli-oauth-"));
});
after(async () => {
  await api.close();
  await oidc.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}): Record<string, string> => ({ KAGIYA_MASTER_KEY: masterKey, CLIENT_SECRET: SECRET, ...extra });
const newStore = (): { spec: string; file: string } => {
  const file = join(dir, `s${++n}.db`);
  return { spec: `sqlite:${file}`, file };
};

async function add(spec: string, name = "acme", extra: string[] = []) {
  const r = await runCli(["oauth", "add", name, "--issuer", oidc.issuer, "--client-id", "kagiya-cli", "--client-secret-env", "CLIENT_SECRET", "--scope", "openid profile offline_access", "--api-origin", api.url, "--store", spec, ...extra], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  return r;
}

async function list(spec: string): Promise<Array<{ name: string; state: string; expiresAt: number | null; issuer: string; scope: string }>> {
  const r = await runCli(["oauth", "list", "--json", "--store", spec], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Runs `oauth login` and completes it headlessly; `alter` may change the callback before it is delivered. */
async function login(spec: string, options: { name?: string; alter?: (callback: URL) => void; alterUrl?: (u: URL) => void; deny?: boolean; extra?: string[] } = {}) {
  const p = startLogin(["oauth", "login", options.name ?? "acme", "--no-browser", "--store", spec, ...(options.extra ?? [])], env());
  const url = new URL(await p.url);
  options.alterUrl?.(url);
  const callback = new URL(await headlessLogin(url.href, options.deny ? { deny: true } : {}));
  options.alter?.(callback);
  // The listener answers once; its answer does not matter to the test, the process's exit does.
  await fetch(callback).then((r) => r.text()).catch(() => "");
  return p.done;
}

describe("kagiya oauth against oidc-provider", () => {
  test("seed scenario: log in once, call the resource, refresh when the refresh point passes, a new process needs no login", async () => {
    const { spec } = newStore();
    await add(spec);
    assert.deepEqual((await list(spec)).map((g) => [g.name, g.state, g.issuer]), [["acme", "no_grant", oidc.issuer]]);

    const r = await login(spec);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /logged in to acme as alice/);
    assert.ok(!r.stderr.includes("code="), "the callback is never echoed");
    const [listed] = await list(spec);
    assert.equal(listed!.state, "active");
    assert.ok(listed!.expiresAt! > Date.now());

    const consumedBefore = oidc.events.get("refresh_token.consumed") ?? 0;
    const first = await runCli(["oauth", "fetch", "acme", `${api.url}/me`, "--store", spec], { env: env() });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).sub, "alice");
    const tokenA = (await runCli(["oauth", "token", "acme", "--store", spec], { env: env() })).stdout.trim();
    // The login's own access token was stored: no refresh yet.
    assert.equal(oidc.events.get("refresh_token.consumed") ?? 0, consumedBefore);

    // The refresh point passes (the stored token is moved to its end, as time would).
    await passRefreshPoint(spec, "acme");
    const second = await runCli(["oauth", "fetch", "acme", `${api.url}/me`, "-H", "X-Trace: 1", "--store", spec], { env: env() });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(JSON.parse(second.stdout).sub, "alice");
    assert.equal(oidc.events.get("refresh_token.consumed") ?? 0, consumedBefore + 1, "one refresh");
    const tokenB = (await runCli(["oauth", "token", "acme", "--store", spec], { env: env() })).stdout.trim();
    assert.notEqual(tokenB, tokenA);

    // The resource server stops accepting the token (as after an early expiry): one refresh, one retry.
    api.refused.add(tokenB);
    const third = await runCli(["oauth", "fetch", "acme", `${api.url}/me`, "--store", spec], { env: env() });
    assert.equal(third.code, 0, third.stderr);
    assert.equal(oidc.events.get("refresh_token.consumed") ?? 0, consumedBefore + 2);
    // A new process, no login: the stored token serves.
    const fourth = await runCli(["oauth", "fetch", "acme", `${api.url}/me`, "--store", spec], { env: env() });
    assert.equal(fourth.code, 0, fourth.stderr);
    assert.equal(oidc.events.get("refresh_token.consumed") ?? 0, consumedBefore + 2);
    assert.equal((await list(spec))[0]!.state, "active");

    // A 4xx from the resource: body printed, exit 1.
    const rejected = await runCli(["oauth", "fetch", "acme", `${api.url}/reject`, "--store", spec], { env: env() });
    assert.equal(rejected.code, 1);
    assert.match(rejected.stdout, /invalid_token/);
    // The token is never sent elsewhere.
    const elsewhere = await runCli(["oauth", "fetch", "acme", `${oidc.issuer}/me`, "--store", spec], { env: env() });
    assert.equal(elsewhere.code, 2);
    assert.match(elsewhere.stderr, /not an origin this grant's token may be sent to/);
  });

  test("--manual: the whole redirect URL or the bare code pasted on stdin", async () => {
    const { spec } = newStore();
    await add(spec, "acme", ["--redirect-uri", "http://127.0.0.1/callback"]);
    for (const paste of ["url", "code"] as const) {
      const p = startLogin(["oauth", "login", "acme", "--manual", "--store", spec], env());
      const callback = new URL(await headlessLogin(await p.url));
      p.paste(`${paste === "url" ? callback.href : callback.searchParams.get("code")}\n`);
      const r = await p.done;
      assert.equal(r.code, 0, `${paste}: ${r.stderr}`);
      assert.match(r.stderr, /paste the code/);
      assert.equal((await list(spec))[0]!.state, "active");
      const f = await runCli(["oauth", "fetch", "acme", `${api.url}/me`, "--store", spec], { env: env() });
      assert.equal(JSON.parse(f.stdout).sub, "alice");
    }
  });

  test("refused logins store nothing: state mismatch, iss mismatch, access_denied, a wrong nonce", async () => {
    const { spec } = newStore();
    await add(spec);
    const cases: Array<[string, Parameters<typeof login>[1], RegExp]> = [
      ["state", { alter: (c) => c.searchParams.set("state", "forged-state-value") }, /state does not match/],
      ["iss", { alter: (c) => c.searchParams.set("iss", "https://evil.example") }, /mix-up/],
      ["access_denied", { deny: true }, /error=access_denied/],
      ["nonce", { alterUrl: (u) => u.searchParams.set("nonce", "another-attempts-nonce") }, /nonce/],
    ];
    for (const [what, options, message] of cases) {
      const r = await login(spec, options);
      assert.equal(r.code, 1, `${what}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").at(-1)!.startsWith("kagiya: "), true, r.stderr);
      assert.match(r.stderr, message, what);
      assert.deepEqual((await list(spec)).map((g) => g.state), ["no_grant"], what);
    }
    const timeout = await runCli(["oauth", "login", "acme", "--no-browser", "--timeout", "1", "--store", spec], { env: env() });
    assert.equal(timeout.code, 1, timeout.stderr);
    assert.match(timeout.stderr, /no login arrived within 1 s/);
    assert.deepEqual((await list(spec)).map((g) => g.state), ["no_grant"]);
    const noGrant = await runCli(["oauth", "token", "acme", "--store", spec], { env: env() });
    assert.equal(noGrant.code, 1);
    assert.match(noGrant.stderr, /log in/);
  });

  test("revoke: the provider's introspection says inactive; the grant needs a new login; remove forgets it", async () => {
    const { spec } = newStore();
    await add(spec);
    assert.equal((await login(spec)).code, 0);
    const token = (await runCli(["oauth", "token", "acme", "--store", spec], { env: env() })).stdout.trim();
    assert.equal((await oidc.introspect(token)).active, true);
    const r = await runCli(["oauth", "revoke", "acme", "--store", spec], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await oidc.introspect(token)).active, false);
    assert.equal((await list(spec))[0]!.state, "reauth_required");
    const after = await runCli(["oauth", "token", "acme", "--store", spec], { env: env() });
    assert.equal(after.code, 1);
    assert.match(after.stderr, /log in/);
    assert.equal((await login(spec)).code, 0, "a new login revives it");
    assert.equal((await list(spec))[0]!.state, "active");
    const rm = await runCli(["oauth", "remove", "acme", "--store", spec], { env: env() });
    assert.equal(rm.code, 0, rm.stderr);
    assert.deepEqual(await list(spec), []);
  });
});

describe("kagiya oauth bad input: one line, exit 2, nothing stored", () => {
  let bare: Server;
  let bareUrl: string;
  before(async () => {
    // A discovery document without a token endpoint.
    bare = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ issuer: bareUrl, authorization_endpoint: `${bareUrl}/auth` }));
    });
    await new Promise<void>((r) => bare.listen(0, "127.0.0.1", r));
    bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => bare.close(() => r())));

  const base = ["--client-id", "kagiya-cli", "--client-secret-env", "CLIENT_SECRET"];
  const cases: Array<[string, () => string[], RegExp]> = [
    ["malformed issuer", () => ["acme", "--issuer", "not a url", ...base], /--issuer is not an absolute URL/],
    ["http issuer off loopback", () => ["acme", "--issuer", "http://idp.example.com", ...base], /http off loopback.*--allow-insecure/],
    ["discovery missing fields", () => ["acme", "--issuer", bareUrl, ...base], /token_endpoint/],
    ["unknown preset", () => ["acme", "--preset", "line-messaging", ...base], /unknown preset "line-messaging" \(known: line-login, line-works\)/],
    ["malformed endpoint", () => ["acme", "--authorize-url", "https://a.example/auth", "--token-url", "::", ...base], /--token-url is not an absolute URL/],
    ["two sources", () => ["acme", "--issuer", "https://a.example", "--preset", "line-login", ...base], /exactly one of/],
    ["secret as a value", () => ["acme", "--issuer", "https://a.example", "--client-id", "x", "--client-secret-env", "s3cr3t-value!"], /takes a variable name/],
    ["bad api origin", () => ["acme", "--issuer", "https://a.example", ...base, "--api-origin", "ftp://files.example"], /--api-origin must be an https URL/],
    ["auth param unknown to the preset", () => ["acme", "--preset", "line-login", ...base, "--auth-param", "foo=bar"], /--auth-param foo is not a parameter of line-login/],
    ["auth param the client sets", () => ["acme", "--issuer", "https://a.example", ...base, "--auth-param", "state=x"], /--auth-param state is set by kagiya itself/],
    ["bad name", () => ["a.b", "--issuer", "https://a.example", ...base], /provider name "a.b" is not valid/],
  ];
  for (const [what, args, message] of cases) {
    test(`oauth add: ${what}`, async () => {
      const { spec, file } = newStore();
      const r = await runCli(["oauth", "add", ...args(), "--store", spec], { env: env() });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.split("\n").filter((l) => l !== "").length, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.ok(!r.stderr.includes(SECRET));
      assert.equal(existsSync(file), false, "no store was created");
    });
  }

  test("oauth login with a registered redirect that is not loopback: exit 2, nothing stored", async () => {
    const { spec } = newStore();
    await add(spec, "acme", ["--redirect-uri", "https://app.example.com/cb"]);
    const r = await runCli(["oauth", "login", "acme", "--no-browser", "--store", spec], { env: env() });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /not a loopback redirect/);
    assert.equal(r.stderr.split("\n").filter((l) => l !== "").length, 1);
    assert.deepEqual((await list(spec)).map((g) => g.state), ["no_grant"]);
    const unknown = await runCli(["oauth", "login", "nobody", "--store", spec], { env: env() });
    assert.equal(unknown.code, 2, unknown.stderr);
    const port = await runCli(["oauth", "login", "acme", "--port", "99999", "--store", spec], { env: env() });
    assert.equal(port.code, 2);
  });
});

describe("the LINE Login preset against the emulator", () => {
  let emu: TestEmulator;
  before(async () => (emu = await startTestEmulator()));
  after(() => emu.close());

  test("oauth add --preset line-login, login (the emulator's test user), fetch the profile, token, revoke", async () => {
    const { body } = await emulatorJson(emu.url, "POST", "/__emulator/channels", {});
    assert.equal((await emulatorJson(emu.url, "POST", "/__emulator/line-login", { channelId: body.channelId })).status, 200);
    const lineEnv = { KAGIYA_LINE_LOGIN_BASE: emu.url, KAGIYA_LINE_API_BASE: emu.url, LINE_SECRET: body.channelSecret };
    const { spec } = newStore();
    const a = await runCli(["oauth", "add", "line", "--preset", "line-login", "--client-id", body.channelId, "--client-secret-env", "LINE_SECRET", "--auth-param", "bot_prompt=aggressive", "--store", spec, "--json"], { env: env(lineEnv) });
    assert.equal(a.code, 0, a.stderr);
    const reg = JSON.parse(a.stdout);
    assert.equal(reg.issuer, "https://access.line.me");
    assert.equal(reg.authMethod, "client_secret_post");
    assert.deepEqual(reg.apiOrigins, ["https://api.line.me"]);

    const p = startLogin(["oauth", "login", "line", "--no-browser", "--store", spec], env(lineEnv));
    const url = new URL(await p.url);
    assert.equal(url.origin, emu.url);
    assert.equal(url.searchParams.get("code_challenge_method"), "S256");
    assert.equal(url.searchParams.get("bot_prompt"), "aggressive");
    await fetch(await headlessLogin(url.href)).then((r) => r.text());
    const r = await p.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /logged in to line as U[0-9a-f]{32}/);

    const profile = await runCli(["oauth", "fetch", "line", `${emu.url}/v2/profile`, "--store", spec], { env: env(lineEnv) });
    assert.equal(profile.code, 0, profile.stderr);
    const token = (await runCli(["oauth", "token", "line", "--store", spec], { env: env(lineEnv) })).stdout.trim();
    const verify = await emulatorJson(emu.url, "GET", `/oauth2/v2.1/verify?access_token=${encodeURIComponent(token)}`);
    assert.equal(verify.status, 200);
    assert.match(JSON.parse(profile.stdout).userId, /^U[0-9a-f]{32}$/);
    const rv = await runCli(["oauth", "revoke", "line", "--store", spec], { env: env(lineEnv) });
    assert.equal(rv.code, 0, rv.stderr);
    assert.equal((await emulatorJson(emu.url, "GET", `/oauth2/v2.1/verify?access_token=${encodeURIComponent(token)}`)).status, 400);
  });
});

describe("kagiya oauth add --auth-method private_key_jwt against oidc-provider", () => {
  const keyFile = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const pkArgs = (spec: string, key: string, extra: string[] = []) => ["oauth", "add", "pk", "--issuer", oidc.issuer, "--client-id", "kagiya-pkjwt", "--auth-method", "private_key_jwt", "--key", key, "--key-id", "k1", "--scope", "openid profile offline_access", "--api-origin", api.url, "--store", spec, ...extra];

  test("a PKCS #8 PEM key: login, refresh and revoke authenticate with a signed assertion; the key is sealed, never printed", async () => {
    const { spec, file } = newStore();
    const pem = keyFile("pk.pem", clientKey.privateKey.export({ format: "pem", type: "pkcs8" }) as string);
    const added = await runCli(pkArgs(spec, pem, ["--json"]), { env: env() });
    assert.equal(added.code, 0, added.stderr);
    assert.equal(JSON.parse(added.stdout).authMethod, "private_key_jwt");
    assert.equal(JSON.parse(added.stdout).keyAlg, "ES256");
    const r = await login(spec, { name: "pk" });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /logged in to pk as alice/);
    // The refresh point passes: the refresh authenticates with the key too.
    const consumed = oidc.events.get("refresh_token.consumed") ?? 0;
    await passRefreshPoint(spec, "pk");
    const fetched = await runCli(["oauth", "fetch", "pk", `${api.url}/me`, "--store", spec], { env: env() });
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.equal(JSON.parse(fetched.stdout).sub, "alice");
    assert.equal(oidc.events.get("refresh_token.consumed") ?? 0, consumed + 1, "one refresh");
    const d = clientKey.privateKey.export({ format: "jwk" }).d!;
    for (const out of [added, r, fetched]) assert.ok(!out.stdout.includes(d) && !out.stderr.includes(d), "the private key printed");
    assert.equal(readFileSync(file).indexOf(d), -1, "the private key in plaintext in the store");
    const revoked = await runCli(["oauth", "revoke", "pk", "--store", spec], { env: env() });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((await list(spec))[0]!.state, "reauth_required");
  });

  test("a JWK key works too; a wrong key is refused by the provider at login; bad keys are refused at add (one line, exit 2, nothing stored)", async () => {
    const jwk = keyFile("pk.jwk.json", JSON.stringify(clientKey.privateKey.export({ format: "jwk" })));
    const { spec } = newStore();
    assert.equal((await runCli(pkArgs(spec, jwk), { env: env() })).code, 0);
    assert.equal((await login(spec, { name: "pk" })).code, 0);

    // Another key than the one the provider holds: the code exchange is refused, nothing stored.
    const other = newStore();
    const wrong = keyFile("wrong.pem", generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }) as string);
    assert.equal((await runCli(pkArgs(other.spec, wrong), { env: env() })).code, 0);
    const refused = await login(other.spec, { name: "pk" });
    assert.notEqual(refused.code, 0);
    assert.equal((await list(other.spec))[0]!.state, "no_grant");

    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const cases: Array<[string, string[], RegExp]> = [
      ["a public key", pkArgs("", keyFile("pub.pem", ec.publicKey.export({ format: "pem", type: "spki" }) as string)), /a public key/],
      ["a SEC 1 PEM", pkArgs("", keyFile("sec1.pem", ec.privateKey.export({ format: "pem", type: "sec1" }) as string)), /PKCS #8/],
      ["a 1024-bit RSA key", pkArgs("", keyFile("small.pem", generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" }) as string)), /1024 bits: at least 2048/],
      ["an EC key with RS256", pkArgs("", jwk, ["--key-alg", "RS256"]), /signs ES256, not RS256/],
      ["an unknown alg", pkArgs("", jwk, ["--key-alg", "HS256"]), /--key-alg must be one of/],
      ["not a key", pkArgs("", keyFile("junk.txt", "hello")), /PKCS #8 PEM .* or a JWK/],
      ["no --key", pkArgs("", jwk).filter((a, i, all) => a !== "--key" && all[i - 1] !== "--key"), /--key/],
      ["a secret too", pkArgs("", jwk, ["--client-secret-env", "CLIENT_SECRET"]), /takes no --client-secret-env/],
      ["--key without private_key_jwt", [...pkArgs("", jwk).map((a) => (a === "private_key_jwt" ? "client_secret_basic" : a)), "--client-secret-env", "CLIENT_SECRET"], /go with --auth-method private_key_jwt/],
      ["a kid with a space", pkArgs("", jwk).map((a) => (a === "k1" ? "k 1" : a)), /--key-id must be/],
    ];
    for (const [what, args, pattern] of cases) {
      const bad = newStore();
      const r = await runCli(args.map((a) => (a === "" ? bad.spec : a)), { env: env() });
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, pattern, what);
      assert.equal(existsSync(bad.file), false, `${what}: nothing stored`);
    }
  });
});
