// `kagiya works add|list|show|remove` and `kagiya token …` for a LINE WORKS app, through the real
// bin against the emulator's LINE WORKS side: secrets only from variables, sealed at rest, never
// printed; bad input one line, exit 2, nothing stored.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import type { TestEmulator } from "../helpers/emulator.ts";
import { startEmulatorWithTempDir } from "../helpers/emulator-fixture.ts";
import { createWorksApp, worksAccessTokens, worksLedger, type TestWorksApp } from "../helpers/works-emulator.ts";
import { generateMasterKeyText } from "../../src/store/sealed.ts";

let emu: TestEmulator;
let dir: string;
let cleanup: () => Promise<void>;
const masterKey = generateMasterKeyText();
before(async () => ({ emu, dir, cleanup } = await startEmulatorWithTempDir("kagiya-cli-works-")));
after(() => cleanup());

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { KAGIYA_MASTER_KEY: masterKey, KAGIYA_WORKS_AUTH_BASE: emu.url, ...extra };
}

/** The app's key as the Developer Console hands it out: a PKCS #8 PEM. */
function pemFile(name: string, app: TestWorksApp): string {
  const path = join(dir, name);
  writeFileSync(path, createPrivateKey({ key: app.privateJwk as never, format: "jwk" }).export({ format: "pem", type: "pkcs8" }) as string, { mode: 0o600 });
  return path;
}

function addArgs(id: string, app: TestWorksApp, key: string, store: string): string[] {
  return ["works", "add", "--id", id, "--client-id", app.clientId, "--client-secret-env", "WORKS_SECRET", "--service-account", app.serviceAccount, "--key", key, "--store", store];
}

test("works add (PKCS #8 PEM, comma-separated scopes), list, show; token get/issue/list/revoke; apikey --credential; works remove", async () => {
  const app = await createWorksApp(emu.url, { tokenLifetime: 3600 });
  const store = `sqlite:${join(mkdtempSync(join(dir, "a-")), "kagiya.db")}`;
  const key = pemFile("a.pem", app);
  const add = await runCli([...addArgs("works-a", app, key, store), "--scope", "bot,user.read", "--json"], { env: env({ WORKS_SECRET: app.clientSecret }) });
  assert.equal(add.code, 0, add.stderr);
  assert.deepEqual(JSON.parse(add.stdout).settings, { clientId: app.clientId, serviceAccount: app.serviceAccount, scope: "bot user.read", refresh: "assertion" });

  const list = await runCli(["works", "list", "--json", "--store", store], { env: env() });
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout).map((a: { id: string; clientId: string }) => [a.id, a.clientId]), [["works-a", app.clientId]]);

  const get = await runCli(["token", "get", "works-a", "--store", store], { env: env() });
  assert.equal(get.code, 0, get.stderr);
  let ledger = await worksAccessTokens(emu.url, app.clientId);
  assert.equal(ledger.length, 1);
  assert.equal(get.stdout, `${ledger[0]!.token}\n`);
  assert.deepEqual(ledger[0]!.scopes, ["bot", "user.read"]);
  // A second process finds it in the store: no new request.
  assert.equal((await runCli(["token", "get", "works-a", "--store", store], { env: env() })).stdout, get.stdout);
  assert.equal((await worksAccessTokens(emu.url, app.clientId)).length, 1);

  const show = await runCli(["works", "show", "works-a", "--json", "--store", store], { env: env() });
  assert.equal(show.code, 0, show.stderr);
  const shown = JSON.parse(show.stdout);
  assert.equal(shown.scope, "bot user.read");
  // kagiya counts the lifetime from before its request: never later than LINE WORKS' own expiry.
  assert.ok(shown.expiresAt <= ledger[0]!.expiresAt && shown.expiresAt > ledger[0]!.issuedAt, `${shown.expiresAt} vs ${ledger[0]!.expiresAt}`);

  const issue = await runCli(["token", "issue", "works-a", "--json", "--store", store], { env: env() });
  assert.equal(issue.code, 0, issue.stderr);
  ledger = await worksAccessTokens(emu.url, app.clientId);
  assert.equal(ledger.length, 2, "issue obtains a new token now");
  const tokens = JSON.parse((await runCli(["token", "list", "works-a", "--json", "--store", store], { env: env() })).stdout);
  assert.equal(tokens.tokens.length, 2);
  assert.equal(tokens.budgetLimit, null);

  const apikey = await runCli(["apikey", "create", "--credential", "works-a", "--json", "--store", store], { env: env() });
  assert.equal(apikey.code, 0, apikey.stderr);
  const keys = JSON.parse((await runCli(["apikey", "list", "--json", "--store", store], { env: env() })).stdout);
  assert.deepEqual(keys[0].channels, ["works-a"]);
  const unknown = await runCli(["apikey", "create", "--credential", "works-nobody", "--store", store], { env: env() });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /not registered/);

  const revoke = await runCli(["token", "revoke", "works-a", "--all", "--store", store], { env: env() });
  assert.equal(revoke.code, 0, revoke.stderr + revoke.stdout);
  assert.deepEqual((await worksAccessTokens(emu.url, app.clientId)).map((t) => t.state), ["revoked", "revoked"]);

  for (const out of [add, list, show, issue, revoke]) {
    assert.ok(!out.stdout.includes(app.clientSecret) && !out.stderr.includes(app.clientSecret));
    assert.ok(!out.stdout.includes(app.privateJwk.d as string));
  }
  const db = readFileSync(store.slice("sqlite:".length));
  assert.equal(db.indexOf(app.clientSecret), -1, "client secret in plaintext in the SQLite file");
  assert.equal(db.indexOf(app.privateJwk.d as string), -1, "private key in plaintext in the SQLite file");

  const rm = await runCli(["works", "remove", "works-a", "--json", "--store", store], { env: env() });
  assert.equal(rm.code, 0, rm.stderr);
  assert.deepEqual(JSON.parse((await runCli(["works", "list", "--json", "--store", store], { env: env() })).stdout), []);
});

test("works add takes a JWK too (no alg or use needed) and a bot; a LINE WORKS app is not a LINE channel", async () => {
  const app = await createWorksApp(emu.url);
  const store = `sqlite:${join(mkdtempSync(join(dir, "b-")), "kagiya.db")}`;
  const key = join(dir, "b.jwk.json");
  writeFileSync(key, JSON.stringify(app.privateJwk), { mode: 0o600 });
  const add = await runCli([...addArgs("works.b", app, key, store), "--bot-id", "2000001", "--bot-secret-env", "BOT_SECRET"], { env: env({ WORKS_SECRET: app.clientSecret, BOT_SECRET: "bot-secret-value-xyz" }) });
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /added LINE WORKS app works\.b/);
  const show = JSON.parse((await runCli(["works", "show", "works.b", "--json", "--store", store], { env: env() })).stdout);
  assert.equal(show.botId, "2000001");
  assert.ok(!JSON.stringify(show).includes("bot-secret-value-xyz"));
  assert.equal((await runCli(["token", "get", "works.b", "--store", store], { env: env() })).code, 0);
  const text = await runCli(["works", "show", "works.b", "--store", store], { env: env() });
  assert.match(text.stdout, /^bot +2000001$/m);
  assert.match(text.stdout, /^token +expires \d{4}-/m);
  assert.match((await runCli(["works", "list", "--store", store], { env: env() })).stdout, new RegExp(`^works\\.b +${app.clientId} +bot `, "m"));
  // LINE's routes and commands keep their digits rule.
  const channel = await runCli(["channel", "show", "works.b", "--store", store], { env: env() });
  assert.equal(channel.code, 2);
});

test("works add --refresh refresh-token: the first token by assertion, the next by the stored refresh token; show names the grant, never its text", async () => {
  const app = await createWorksApp(emu.url, { rotation: true });
  const store = `sqlite:${join(mkdtempSync(join(dir, "rt-")), "kagiya.db")}`;
  const add = await runCli([...addArgs("works-rt", app, pemFile("rt.pem", app), store), "--refresh", "refresh-token"], { env: env({ WORKS_SECRET: app.clientSecret }) });
  assert.equal(add.code, 0, add.stderr);
  assert.equal((await runCli(["token", "get", "works-rt", "--store", store], { env: env() })).code, 0);
  const issue = await runCli(["token", "issue", "works-rt", "--store", store], { env: env() });
  assert.equal(issue.code, 0, issue.stderr);
  const ledger = await worksLedger(emu.url, app.clientId);
  assert.deepEqual(ledger.filter((t) => t.type === "access").map((t) => t.grant), ["jwt-bearer", "refresh_token"]);
  const show = await runCli(["works", "show", "works-rt", "--json", "--store", store], { env: env() });
  const shown = JSON.parse(show.stdout);
  assert.equal(shown.refresh, "refresh-token");
  assert.deepEqual([shown.grant.version, shown.grant.status], [2, "active"]);
  for (const t of ledger) assert.ok(!show.stdout.includes(t.token), "a token printed by works show");
  assert.match((await runCli(["works", "show", "works-rt", "--store", store], { env: env() })).stdout, /^grant +refresh token v2 active$/m);
  assert.match((await runCli(["token", "list", "works-rt", "--store", store], { env: env() })).stdout, /^grant: refresh token v2 active$/m);
  assert.deepEqual(JSON.parse((await runCli(["token", "list", "works-rt", "--json", "--store", store], { env: env() })).stdout).grant.status, "active");
});

test("works add bad input: one line, exit 2, nothing stored, no secret echoed", async () => {
  const app = await createWorksApp(emu.url);
  const storeDir = mkdtempSync(join(dir, "c-"));
  const store = `sqlite:${join(storeDir, "kagiya.db")}`;
  const good = pemFile("c.pem", app);
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const ec = write("c.ec.pem", generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }) as string);
  const small = write("c.small.pem", generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" }) as string);
  const pkcs1 = write("c.pkcs1.pem", createPrivateKey({ key: app.privateJwk as never, format: "jwk" }).export({ format: "pem", type: "pkcs1" }) as string);
  const pub = write("c.pub.pem", createPublicKey(createPrivateKey({ key: app.privateJwk as never, format: "jwk" })).export({ format: "pem", type: "spki" }) as string);
  const secret = "aB3xYz9QsEcReT";
  const base = (over: Record<string, string | null> = {}): string[] => {
    const flags: Record<string, string | null> = { "--id": "works-c", "--client-id": app.clientId, "--client-secret-env": "WORKS_SECRET", "--service-account": app.serviceAccount, "--key": good, "--store": store, ...over };
    return ["works", "add", ...Object.entries(flags).flatMap(([k, v]) => (v === null ? [] : [k, v]))];
  };
  const cases: Array<[string, string[], RegExp]> = [
    ["an EC key", base({ "--key": ec }), /RSA/],
    ["a 1024-bit key", base({ "--key": small }), /fails keys lint/],
    ["a PKCS #1 PEM", base({ "--key": pkcs1 }), /RSA PRIVATE KEY PEM.*PKCS #8/],
    ["a public key", base({ "--key": pub }), /PUBLIC KEY PEM|public key/],
    ["no @ in the service account", base({ "--service-account": "serviceaccount.example.com" }), /service account ID.*@/],
    ["a ; between scopes", [...base(), "--scope", "bot;user.read"], /";" between scopes/],
    ["the secret as the flag's value", base({ "--client-secret-env": "s3cr3t-value/+=" }), /takes a variable name, not a value/],
    ["a secret-looking name that is not set", base({ "--client-secret-env": secret }), /the environment variable it names \(from --client-secret-env\) is not set/],
    ["the secret as a flag", [...base({ "--client-secret-env": null }), "--client-secret", secret], /unknown option --client-secret/],
    ["--refresh something else", [...base(), "--refresh", "sometimes"], /--refresh must be "assertion" or "refresh-token"/],
    ["a bot without its secret", [...base(), "--bot-id", "2000001"], /--bot-id and --bot-secret-env go together/],
    ["a path as the ID", base({ "--id": "../works" }), /credential ID/],
  ];
  for (const [what, args, pattern] of cases) {
    const r = await runCli(args, { env: env({ WORKS_SECRET: app.clientSecret }) });
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: one line: ${r.stderr}`);
    assert.match(r.stderr, pattern, what);
    assert.equal(r.stdout, "", what);
    for (const s of [secret, app.clientSecret, "s3cr3t-value"]) assert.ok(!r.stderr.includes(s), `${what}: a secret echoed: ${r.stderr}`);
  }
  assert.equal(existsSync(join(storeDir, "kagiya.db")), false, "nothing was stored");
  // The same flags with the mistakes fixed are accepted.
  const ok = await runCli(base(), { env: env({ WORKS_SECRET: app.clientSecret }) });
  assert.equal(ok.code, 0, ok.stderr);
});

test("works remove revokes the stored refresh token at LINE WORKS, then the access tokens; LINE WORKS unreachable: nothing removed, exit 1, --keep-tokens removes anyway", async () => {
  const app = await createWorksApp(emu.url, { rotation: true });
  const store = `sqlite:${join(mkdtempSync(join(dir, "rm-")), "kagiya.db")}`;
  const addTwo = async (id: string) => {
    const add = await runCli([...addArgs(id, app, pemFile(`${id}.pem`, app), store), "--refresh", "refresh-token"], { env: env({ WORKS_SECRET: app.clientSecret }) });
    assert.equal(add.code, 0, add.stderr);
    assert.equal((await runCli(["token", "get", id, "--store", store], { env: env() })).code, 0);
    assert.equal((await runCli(["token", "issue", id, "--store", store], { env: env() })).code, 0);
  };
  await addTwo("works-rm");
  const live = (await worksLedger(emu.url, app.clientId)).filter((t) => t.revokedAt === null);
  assert.deepEqual(live.map((t) => t.type).sort(), ["access", "access", "refresh"], "two access tokens and the rotated refresh token");

  // LINE WORKS out of reach: the refresh token cannot be revoked, so nothing is removed.
  const down = await runCli(["works", "remove", "works-rm", "--store", store], { env: env({ KAGIYA_WORKS_AUTH_BASE: "http://127.0.0.1:1" }) });
  assert.equal(down.code, 1, down.stderr);
  assert.match(down.stderr, /could not revoke the refresh token of LINE WORKS app works-rm .*nothing removed.*--keep-tokens/);
  assert.equal(down.stderr.trim().split("\n").length, 1);
  assert.equal(JSON.parse((await runCli(["works", "list", "--json", "--store", store], { env: env() })).stdout).length, 1, "still registered");

  const rm = await runCli(["works", "remove", "works-rm", "--json", "--store", store], { env: env() });
  assert.equal(rm.code, 0, rm.stderr);
  const out = JSON.parse(rm.stdout);
  assert.equal(out.refreshTokenRevoked, true);
  assert.equal(out.revoked.length, 2);
  for (const t of live) assert.notEqual((await worksLedger(emu.url, app.clientId)).find((r) => r.token === t.token)?.revokedAt, null, `the ${t.type} token is revoked at LINE WORKS`);
  assert.ok(!rm.stdout.includes(live[0]!.token));
  assert.deepEqual(JSON.parse((await runCli(["works", "list", "--json", "--store", store], { env: env() })).stdout), []);

  // --keep-tokens: removed without asking LINE WORKS (it is out of reach), its refresh token left valid.
  await addTwo("works-keep");
  const keep = await runCli(["works", "remove", "works-keep", "--keep-tokens", "--store", store], { env: env({ KAGIYA_WORKS_AUTH_BASE: "http://127.0.0.1:1" }) });
  assert.equal(keep.code, 0, keep.stderr);
  assert.equal((await worksLedger(emu.url, app.clientId)).filter((t) => t.type === "refresh" && t.revokedAt === null).length, 1);
});
