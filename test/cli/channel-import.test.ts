import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, type CliResult } from "../helpers/cli.ts";
import { createTestChannel, type TestChannel, type TestEmulator } from "../helpers/emulator.ts";
import { startEmulatorWithTempDir } from "../helpers/emulator-fixture.ts";
import { createWorksApp, worksAccessTokens, type TestWorksApp } from "../helpers/works-emulator.ts";
import pg from "pg";
import { generateMasterKeyText } from "../../src/store/sealed.ts";
import { PostgresStore } from "../../src/store/postgres/store.ts";
import { DATABASE_URL, postgresSkip, randomNamespace } from "../store/services.ts";

// Before any test is registered: a top-level await between tests lets the file's after() run early.
const postgresSkipped = await postgresSkip();
let emu: TestEmulator;
let dir: string;
let cleanup: () => Promise<void>;
const masterKey = generateMasterKeyText();
before(async () => ({ emu, dir, cleanup } = await startEmulatorWithTempDir("kagiya-cli-import-")));
after(() => cleanup());

const env = (): Record<string, string> => ({ KAGIYA_MASTER_KEY: masterKey, KAGIYA_LINE_API_BASE: emu.url, KAGIYA_WORKS_AUTH_BASE: emu.url });
const kagiya = (cwd: string, ...args: string[]): Promise<CliResult> => runCli(args, { cwd, env: env() });

/** The private JWK as `kagiya keys generate` writes it (keys lint wants alg and use). */
const keyOf = (ch: TestChannel): object => ({ ...ch.privateJwk, alg: "RS256", use: "sig" });
const pemOf = (ch: TestChannel): string => createPrivateKey({ key: ch.privateJwk as never, format: "jwk" }).export({ format: "pem", type: "pkcs8" }) as string;

/** Writes an import file (owner-only unless `mode` says otherwise); lines given as strings are written as they are. */
function importFile(name: string, lines: Array<object | string>, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n", { mode });
  chmodSync(path, mode); // the umask does not narrow what the test asks for
  return path;
}

/** Asserts no output of `results` carries any of the secrets (channel secrets, private key members). */
function assertNoSecret(results: CliResult[], secrets: string[]): void {
  for (const r of results) for (const s of secrets) {
    assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), "a secret in the output");
  }
}

test("channel import: v2.1 and stateless channels, JWK and PEM keys; tokens issue; re-import skips all; export shows no secret", async () => {
  const cwd = mkdtempSync(join(dir, "good-"));
  const [a, b, c, d] = [await createTestChannel(emu.url), await createTestChannel(emu.url), await createTestChannel(emu.url), await createTestChannel(emu.url)];
  const file = importFile("good.jsonl", [
    { id: a.channelId, kid: a.kid, key: keyOf(a), secret: a.channelSecret, policy: { lifetimeSeconds: 86400 } },
    "",
    { id: b.channelId, kid: b.kid, key: pemOf(b), secret: b.channelSecret, kind: "line-v2.1" },
    { id: c.channelId, kid: c.kid, key: keyOf(c), secret: c.channelSecret, kind: "line-stateless" },
    { id: d.channelId, kid: d.kid, key: pemOf(d), secret: d.channelSecret, kind: "line-stateless", auth: "secret" },
  ]);
  const imported = await kagiya(cwd, "channel", "import", file, "--json");
  assert.equal(imported.code, 0, imported.stderr);
  const report = JSON.parse(imported.stdout);
  assert.deepEqual([report.added, report.replaced, report.skipped, report.refused, report.written], [4, 0, 0, 0, true]);
  assert.deepEqual(report.lines.map((l: { line: number; id: string; outcome: string }) => [l.line, l.id, l.outcome]), [
    [1, a.channelId, "added"], [3, b.channelId, "added"], [4, c.channelId, "added"], [5, d.channelId, "added"],
  ]);

  // Each channel works: the key and secret went in as given (d's stateless token is issued by secret).
  const tokens = [];
  for (const ch of [a, b, c, d]) {
    const got = await kagiya(cwd, "token", "get", ch.channelId);
    assert.equal(got.code, 0, got.stderr);
    tokens.push(got);
  }
  for (const [ch, kind] of [[a, "v2.1"], [b, "v2.1"], [c, "stateless"], [d, "stateless"]] as const) {
    const ledger = (await (await fetch(`${emu.url}/__emulator/channels/${ch.channelId}/tokens`)).json()) as { tokens: Array<{ kind: string }> };
    assert.deepEqual(ledger.tokens.map((t) => t.kind), [kind], `channel ${ch.channelId}`);
  }
  const show = JSON.parse((await kagiya(cwd, "channel", "show", a.channelId, "--json")).stdout);
  assert.equal(show.policy.lifetimeSeconds, 86400);

  const again = await kagiya(cwd, "channel", "import", file);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /0 added, 0 replaced, 4 skipped/);

  const exported = await kagiya(cwd, "channel", "export");
  assert.equal(exported.code, 0, exported.stderr);
  const rows = exported.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const byId = new Map(rows.map((r) => [r.id, r]));
  assert.deepEqual([...byId.keys()].sort(), [a, b, c, d].map((ch) => ch.channelId).sort());
  assert.deepEqual(byId.get(d.channelId), { id: d.channelId, kind: "line-stateless", kid: d.kid, settings: { auth: "secret" }, policy: {}, createdAt: byId.get(d.channelId).createdAt });
  assert.deepEqual(byId.get(a.channelId).policy, { lifetimeSeconds: 86400 });
  const asArray = await kagiya(cwd, "channel", "export", "--json");
  assert.deepEqual(JSON.parse(asArray.stdout), rows);
  // Only public columns are read: an auditor needs no master key.
  const auditor = await runCli(["channel", "export"], { cwd, env: { KAGIYA_LINE_API_BASE: emu.url } });
  assert.equal(auditor.code, 0, auditor.stderr);
  assert.equal(auditor.stdout, exported.stdout);

  const secrets = [a, b, c, d].flatMap((ch) => [ch.channelSecret, ch.privateJwk.d as string, ch.privateJwk.p as string]);
  assertNoSecret([imported, again, exported, asArray], secrets);
  for (const ch of [a, b, c, d]) assert.ok(!exported.stdout.includes(ch.channelSecret), `export holds the secret of ${ch.channelId}`);
});

test("channel import --dry-run reports what would be done and writes nothing", async () => {
  const cwd = mkdtempSync(join(dir, "dry-"));
  const [a, b] = [await createTestChannel(emu.url), await createTestChannel(emu.url)];
  const one = importFile("dry-one.jsonl", [{ id: a.channelId, kid: a.kid, key: keyOf(a), secret: a.channelSecret }]);
  const both = importFile("dry-both.jsonl", [
    { id: a.channelId, kid: a.kid, key: keyOf(a), secret: a.channelSecret },
    { id: b.channelId, kid: b.kid, key: keyOf(b), secret: b.channelSecret, kind: "line-stateless" },
  ]);
  // No store yet: a dry run does not create one.
  const fresh = await kagiya(cwd, "channel", "import", both, "--dry-run");
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.match(fresh.stdout, /would be 2 added, 0 replaced, 0 skipped.*nothing written/);
  assert.ok(!existsSync(join(cwd, "kagiya.db")), "a dry run created the store");

  assert.equal((await kagiya(cwd, "channel", "import", one)).code, 0);
  const before = (await kagiya(cwd, "channel", "export")).stdout;
  const dry = await kagiya(cwd, "channel", "import", both, "--dry-run", "--json");
  assert.equal(dry.code, 0, dry.stderr);
  const report = JSON.parse(dry.stdout);
  assert.deepEqual([report.dryRun, report.written, report.added, report.skipped], [true, false, 1, 1]);
  assert.equal((await kagiya(cwd, "channel", "export")).stdout, before, "a dry run changed the store");
  assertNoSecret([fresh, dry], [a.channelSecret, b.channelSecret, a.privateJwk.d as string]);
});

test("channel import refuses a file with bad lines: each named by line and field, exit 2, nothing written", async () => {
  const cwd = mkdtempSync(join(dir, "bad-"));
  const [a, b] = [await createTestChannel(emu.url), await createTestChannel(emu.url)];
  const good = { id: a.channelId, kid: a.kid, key: keyOf(a), secret: a.channelSecret };
  const { alg: _alg, ...unmarked } = keyOf(b) as Record<string, unknown>;
  const lines: Array<[object | string, string, RegExp]> = [
    [good, "", /./],
    ["{\"id\": \"123\", \"secret\": \"" + b.channelSecret, "(line)", /not valid JSON/],
    [{ id: a.channelId, kid: a.kid, key: keyOf(a), secret: b.channelSecret }, "id", new RegExp(`channel ${a.channelId} is also on line 1`)],
    [{ id: b.channelId, kid: b.kid, key: unmarked, secret: b.channelSecret }, "key", /fails keys lint \(alg: alg is missing\)/],
    [{ id: "2000000007", kid: b.kid, key: b.publicJwk, secret: b.channelSecret }, "key", /public key/],
    [{ id: "2000000001", kid: b.kid, key: keyOf(b) }, "secret", /secret: missing/],
    [{ id: "2000000002", key: keyOf(b), secret: b.channelSecret }, "kid", /kid: missing/],
    [{ id: b.channelSecret, kid: b.kid, key: keyOf(b), secret: b.channelSecret }, "id", /must be a LINE channel ID/],
    [{ id: "works-x", kind: "line-works", clientId: "cid", clientSecret: "s", serviceAccount: "no-at-sign", key: keyOf(b) }, "serviceAccount", /service account ID/],
    [{ id: "2000000004", kid: b.kid, key: keyOf(b), secret: b.channelSecret, kind: "line-stateless", policy: { lifetimeSeconds: 3600 } }, "policy.lifetimeSeconds", /cannot be set for stateless/],
    [{ id: "2000000005", kid: b.kid, key: keyOf(b), secret: b.channelSecret, auth: "secret" }, "auth", /line-stateless only/],
    [{ id: "2000000006", kid: b.kid, key: keyOf(b), secret: b.channelSecret, secrte: "x" }, "secrte", /unknown field "secrte"/],
  ];
  const file = importFile("bad.jsonl", lines.map(([l]) => l));

  // With a store holding one channel already: it stays as it was.
  const seed = importFile("seed.jsonl", [{ id: b.channelId, kid: b.kid, key: keyOf(b), secret: b.channelSecret }]);
  assert.equal((await kagiya(cwd, "channel", "import", seed)).code, 0);
  const before = (await kagiya(cwd, "channel", "export")).stdout;

  const text = await kagiya(cwd, "channel", "import", file);
  assert.equal(text.code, 2, text.stderr);
  assert.equal(text.stderr.trim().split("\n").length, 1, text.stderr);
  assert.match(text.stderr, new RegExp(`11 of 12 line\\(s\\) of .*bad\\.jsonl refused \\(first: line 2, \\(line\\)\\); nothing written`));
  const reported = text.stdout.trim().split("\n");
  assert.equal(reported.length, 11, text.stdout);
  lines.slice(1).forEach(([, field, reason], i) => {
    const line = i + 2;
    const entry = reported.find((r) => r.includes(`bad.jsonl:${line}: `));
    assert.ok(entry, `line ${line} not reported`);
    assert.ok(entry.includes(`:${line}: ${field}: `), `line ${line}: ${entry}`);
    assert.match(entry, reason);
  });

  const json = await kagiya(cwd, "channel", "import", file, "--json");
  assert.equal(json.code, 2);
  const report = JSON.parse(json.stdout);
  assert.deepEqual([report.written, report.added, report.refused], [false, 0, 11]);
  assert.deepEqual(report.lines.map((l: { line: number; field: string }) => [l.line, l.field]), lines.slice(1).map(([, field], i) => [i + 2, field]));

  assert.equal((await kagiya(cwd, "channel", "export")).stdout, before, "the store changed");
  assertNoSecret([text, json], [a.channelSecret, b.channelSecret, b.privateJwk.d as string]);

  // Good lines alone in a fresh directory: the refusals above were the only reason.
  const fresh = mkdtempSync(join(dir, "bad-fresh-"));
  const refusedFresh = await kagiya(fresh, "channel", "import", file);
  assert.equal(refusedFresh.code, 2);
  assert.ok(!existsSync(join(fresh, "kagiya.db")), "a refused file created the store");
});

test("channel import refuses a file group or others can read, before reading a line", async () => {
  const cwd = mkdtempSync(join(dir, "mode-"));
  const a = await createTestChannel(emu.url);
  const line = { id: a.channelId, kid: a.kid, key: keyOf(a), secret: a.channelSecret };
  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    const file = importFile(`open-${mode.toString(8)}.jsonl`, [line], mode);
    const r = await kagiya(cwd, "channel", "import", file);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`import file ".*" is open to group or others \\(mode 0${mode.toString(8)}\\).*chmod 600`));
    assert.ok(!existsSync(join(cwd, "kagiya.db")), "nothing written");
    assertNoSecret([r], [a.channelSecret]);
  }
  const missing = await kagiya(cwd, "channel", "import", join(cwd, "nope.jsonl"));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /import file ".*nope\.jsonl" does not exist/);
});

test("channel import: a registered channel with another key, kid or secret is refused unless --replace", async () => {
  const cwd = mkdtempSync(join(dir, "replace-"));
  const a = await createTestChannel(emu.url);
  const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  const otherKey = { ...other, alg: "RS256", use: "sig" };
  const first = importFile("r1.jsonl", [{ id: a.channelId, kid: a.kid, key: keyOf(a), secret: a.channelSecret }]);
  assert.equal((await kagiya(cwd, "channel", "import", first)).code, 0);
  const before = (await kagiya(cwd, "channel", "export")).stdout;

  const cases: Array<[object, RegExp]> = [
    [{ id: a.channelId, kid: a.kid, key: otherKey, secret: a.channelSecret }, /:1: key: channel \d+ is already registered with another key \(pass --replace/],
    [{ id: a.channelId, kid: "another-kid", key: pemOf(a), secret: "0123456789abcdef0123456789abcdef" }, /:1: kid: .*another kid, secret \(pass --replace/],
    [{ id: a.channelId, kid: a.kid, key: keyOf(a), secret: a.channelSecret, kind: "line-stateless" }, /:1: kind: .*another kind/],
  ];
  for (const [i, [line, pattern]] of cases.entries()) {
    const file = importFile(`r-change-${i}.jsonl`, [line]);
    const r = await kagiya(cwd, "channel", "import", file);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stdout, pattern);
    assert.equal((await kagiya(cwd, "channel", "export")).stdout, before, "the store changed");
    assertNoSecret([r], [a.channelSecret, "0123456789abcdef0123456789abcdef", other.d!]);
  }
  // The same key as PEM is the same key: skipped.
  const pem = importFile("r-pem.jsonl", [{ id: a.channelId, kid: a.kid, key: pemOf(a), secret: a.channelSecret }]);
  assert.match((await kagiya(cwd, "channel", "import", pem)).stdout, /0 added, 0 replaced, 1 skipped/);

  const stateless = importFile("r-stateless.jsonl", [{ id: a.channelId, kid: a.kid, key: keyOf(a), secret: a.channelSecret, kind: "line-stateless" }]);
  const replaced = await kagiya(cwd, "channel", "import", stateless, "--replace", "--json");
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.deepEqual(JSON.parse(replaced.stdout).lines.map((l: { outcome: string }) => l.outcome), ["replaced"]);
  const row = JSON.parse((await kagiya(cwd, "channel", "export")).stdout);
  assert.equal(row.kind, "line-stateless");
  assert.equal(row.createdAt, JSON.parse(before).createdAt, "replacing keeps createdAt");
  const got = await kagiya(cwd, "token", "get", a.channelId);
  assert.equal(got.code, 0, got.stderr);
  const audit = await kagiya(cwd, "audit", "--json");
  assert.match(audit.stdout, /channel\.replace/);
});

test("channel import: a write the store refuses mid-file takes the channels written out again and puts a replaced one back", { skip: postgresSkipped }, async () => {
  const cwd = mkdtempSync(join(dir, "undo-"));
  const schema = randomNamespace("import");
  const store = `${DATABASE_URL}?schema=${schema}`;
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const chs = [await createTestChannel(emu.url), await createTestChannel(emu.url), await createTestChannel(emu.url), await createTestChannel(emu.url)];
    const lineOf = (ch: TestChannel, extra: object = {}): object => ({ id: ch.channelId, kid: ch.kid, key: keyOf(ch), secret: ch.channelSecret, ...extra });
    const seed = importFile("undo-seed.jsonl", [lineOf(chs[0]!)]);
    assert.equal((await runCli(["channel", "import", seed, "--store", store], { cwd, env: env() })).code, 0);
    const before = (await runCli(["channel", "export", "--store", store], { cwd, env: env() })).stdout;
    // A real refusal by the database, for one channel only: the others are written before or beside it.
    const refused = chs[3]!.channelId;
    await client.query(`CREATE FUNCTION ${schema}.refuse() RETURNS trigger AS $$ BEGIN IF NEW.channel_id = '${refused}' THEN RAISE EXCEPTION 'refused by test trigger'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await client.query(`CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON ${schema}.channels FOR EACH ROW EXECUTE FUNCTION ${schema}.refuse()`);

    const file = importFile("undo.jsonl", [lineOf(chs[0]!, { kind: "line-stateless" }), lineOf(chs[1]!), lineOf(chs[2]!), lineOf(chs[3]!)]);
    const r = await runCli(["channel", "import", file, "--replace", "--store", store], { cwd, env: env() });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /refused by test trigger/);
    assert.equal((await runCli(["channel", "export", "--store", store], { cwd, env: env() })).stdout, before, "the file was left half imported");
    const kept = await PostgresStore.connect({ url: DATABASE_URL, schema });
    try {
      assert.deepEqual((await kept.listAudit()).filter((a) => a.action !== "channel.add" || a.channelId !== chs[0]!.channelId), [], "audit rows for channels not kept");
    } finally {
      await kept.close();
    }
    assertNoSecret([r], chs.map((ch) => ch.channelSecret));
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
});

/** A LINE WORKS app's import line: its key as the console's PKCS #8 PEM, or as a JWK object with `jwk`. */
function worksLine(id: string, app: TestWorksApp, extra: Record<string, unknown> = {}, jwk = false): Record<string, unknown> {
  const key = jwk ? app.privateJwk : (createPrivateKey({ key: app.privateJwk as never, format: "jwk" }).export({ format: "pem", type: "pkcs8" }) as string);
  return { id, kind: "line-works", clientId: app.clientId, clientSecret: app.clientSecret, serviceAccount: app.serviceAccount, key, ...extra };
}

test("channel import: LINE channels and LINE WORKS apps in one file; works tokens issue; re-import skips; export shows only public settings", async () => {
  const cwd = mkdtempSync(join(dir, "works-"));
  const a = await createTestChannel(emu.url);
  const [w1, w2] = [await createWorksApp(emu.url), await createWorksApp(emu.url)];
  const botSecret = "bot-secret-value-import-xyz";
  const file = importFile("works.jsonl", [
    { id: a.channelId, kid: a.kid, key: keyOf(a), secret: a.channelSecret },
    worksLine("works-one", w1, { scope: "bot,user.read" }),
    worksLine("works.two", w2, { scope: "bot user.read", refresh: "refresh-token", botId: "2000001", botSecret }, true),
  ]);
  const dry = await kagiya(cwd, "channel", "import", file, "--dry-run");
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would be 3 added, 0 replaced, 0 skipped/);
  assert.ok(!existsSync(join(cwd, "kagiya.db")), "a dry run created the store");

  const imported = await kagiya(cwd, "channel", "import", file, "--json");
  assert.equal(imported.code, 0, imported.stderr);
  const report = JSON.parse(imported.stdout);
  assert.deepEqual(report.lines.map((l: { line: number; id: string; kind: string; outcome: string }) => [l.line, l.id, l.kind, l.outcome]), [
    [1, a.channelId, "line-v2.1", "added"], [2, "works-one", "line-works", "added"], [3, "works.two", "line-works", "added"],
  ]);

  const show = JSON.parse((await kagiya(cwd, "works", "show", "works.two", "--json")).stdout);
  assert.deepEqual([show.clientId, show.serviceAccount, show.scope, show.refresh, show.botId], [w2.clientId, w2.serviceAccount, "bot user.read", "refresh-token", "2000001"]);
  for (const [id, app] of [["works-one", w1], ["works.two", w2]] as const) {
    const got = await kagiya(cwd, "token", "get", id);
    assert.equal(got.code, 0, got.stderr);
    const issued = await worksAccessTokens(emu.url, app.clientId);
    assert.equal(issued.length, 1, id);
    assert.ok(got.stdout.includes(issued[0]!.token), `${id}: the token LINE WORKS issued`);
  }
  assert.equal((await kagiya(cwd, "token", "get", a.channelId)).code, 0);

  const again = await kagiya(cwd, "channel", "import", file);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /0 added, 0 replaced, 3 skipped/);
  // Another Client Secret for a registered app: refused by name unless --replace.
  const changed = importFile("works-changed.jsonl", [worksLine("works-one", w1, { scope: "bot,user.read", clientSecret: "another-secret" })]);
  const refusedChange = await kagiya(cwd, "channel", "import", changed);
  assert.equal(refusedChange.code, 2);
  assert.match(refusedChange.stdout, /works-changed\.jsonl:1: clientSecret: .*--replace/);

  const exported = await kagiya(cwd, "channel", "export");
  assert.equal(exported.code, 0, exported.stderr);
  const row = exported.stdout.trim().split("\n").map((l) => JSON.parse(l)).find((r) => r.id === "works.two");
  assert.deepEqual(row.settings, { clientId: w2.clientId, serviceAccount: w2.serviceAccount, scope: "bot user.read", refresh: "refresh-token", botId: "2000001" });
  const secrets = [w1.clientSecret, w2.clientSecret, botSecret, "another-secret", w1.privateJwk.d as string, w2.privateJwk.d as string, a.channelSecret];
  assertNoSecret([dry, imported, again, refusedChange, exported], secrets);
});

test("channel import refuses bad LINE WORKS lines by line and field, as works add would, and writes nothing", async () => {
  const cwd = mkdtempSync(join(dir, "works-bad-"));
  const a = await createTestChannel(emu.url);
  const w = await createWorksApp(emu.url);
  const pkcs1 = createPrivateKey({ key: w.privateJwk as never, format: "jwk" }).export({ format: "pem", type: "pkcs1" }) as string;
  const { privateKey: small } = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const lines: Array<[object, string, RegExp]> = [
    [{ id: a.channelId, kid: a.kid, key: keyOf(a), secret: a.channelSecret }, "", /./],
    [worksLine("works-ok", w), "", /./],
    [worksLine("works-sa", w, { serviceAccount: "ab1cd.serviceaccount" }), "serviceAccount", /has an "@"/],
    [worksLine("works-scope", w, { scope: "bot;user.read" }), "scope", /uses ";" between scopes/],
    [worksLine("works-pkcs1", w, { key: pkcs1 }), "key", /RSA PRIVATE KEY PEM.*PKCS #8/],
    [worksLine("works-small", w, { key: small.export({ format: "pem", type: "pkcs8" }) }), "key", /fails keys lint/],
    [worksLine("works-number", w, { key: 42 }), "key", /PKCS #8 PEM text or a private JWK/],
    [worksLine("works-nosecret", w, { clientSecret: undefined }), "clientSecret", /missing/],
    [worksLine("works-bot", w, { botId: "2000001" }), "botSecret", /go together/],
    [worksLine("works-refresh", w, { refresh: "sometimes" }), "refresh", /"assertion" or "refresh-token"/],
    [worksLine("../works", w), "id", /credential ID .* is not valid/],
    [worksLine("works-kid", w, { kid: "k1" }), "kid", /unknown field "kid" of a line-works app/],
  ];
  const file = importFile("works-bad.jsonl", lines.map(([l]) => l));
  const r = await kagiya(cwd, "channel", "import", file);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /10 of 12 line\(s\) of .*works-bad\.jsonl refused \(first: line 3, serviceAccount\); nothing written/);
  const reported = r.stdout.trim().split("\n");
  assert.equal(reported.length, 10, r.stdout);
  lines.slice(2).forEach(([, field, reason], i) => {
    const line = i + 3;
    const entry = reported.find((e) => e.includes(`works-bad.jsonl:${line}: `));
    assert.ok(entry?.includes(`:${line}: ${field}: `), `line ${line}: ${entry}`);
    assert.match(entry!, reason);
  });
  assert.ok(!existsSync(join(cwd, "kagiya.db")), "a refused file created the store");
  assertNoSecret([r], [w.clientSecret, w.privateJwk.d as string, a.channelSecret]);
});
