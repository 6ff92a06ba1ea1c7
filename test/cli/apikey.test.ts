import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { openStore } from "../../src/store/open.ts";
import { hashApiKey } from "../../src/server/apikeys.ts";

let dir: string;
let spec: string;
const CHANNEL = "1234567890";

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "kagiya-apikey-"));
  spec = `sqlite:${join(dir, "kagiya.db")}`;
  const store = await openStore(spec);
  // A channel row as the registry writes it (the CLI only checks that the channel exists).
  await store.putChannel({ channelId: CHANNEL, kid: "kid", privateKey: "v1.x.y.z", channelSecret: "v1.x.y.z", policy: {}, kind: "line-v2.1", settings: {}, secrets: {}, createdAt: 1, updatedAt: 1 });
  await store.close();
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("apikey create --json prints {id, key} once; the store holds only the hash; list and audit never show the key", async () => {
  const r = await runCli(["apikey", "create", "--channel", CHANNEL, "--name", "billing", "--json", "--store", spec]);
  assert.equal(r.code, 0, r.stderr);
  const created = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(created).sort(), ["id", "key"]);
  assert.match(created.id, /^ak_[0-9a-f]{16}$/);
  assert.match(created.key, /^kgy_[A-Za-z0-9_-]{43}$/);

  const store = await openStore(spec);
  try {
    const row = await store.getApiKeyByHash(hashApiKey(created.key));
    assert.equal(row?.id, created.id);
    assert.deepEqual(row?.channels, [CHANNEL]);
  } finally {
    await store.close();
  }

  const list = await runCli(["apikey", "list", "--store", spec]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(created.id));
  assert.match(list.stdout, /billing/);
  assert.ok(!list.stdout.includes(created.key));
  const listJson = JSON.parse((await runCli(["apikey", "list", "--json", "--store", spec])).stdout);
  assert.ok(!JSON.stringify(listJson).includes(created.key));
  assert.ok(!JSON.stringify(listJson).includes(hashApiKey(created.key)));

  const rev = await runCli(["apikey", "revoke", created.id, "--store", spec]);
  assert.equal(rev.code, 0, rev.stderr);
  const after = JSON.parse((await runCli(["apikey", "list", "--json", "--store", spec])).stdout);
  assert.notEqual(after.find((k: { id: string }) => k.id === created.id).revokedAt, null);

  const audit = await runCli(["audit", "--json", "--store", spec]);
  assert.equal(audit.code, 0, audit.stderr);
  const rows = JSON.parse(audit.stdout);
  const actions = rows.filter((a: { keyId: string }) => a.keyId === created.id).map((a: { action: string }) => a.action);
  assert.deepEqual(actions.sort(), ["apikey.create", "apikey.revoke"]);
  assert.ok(!audit.stdout.includes(created.key));
  const text = await runCli(["audit", "--channel", CHANNEL, "--store", spec]);
  assert.equal(text.code, 0, text.stderr);
});

test("apikey create without text output flag prints the key alone on stdout", async () => {
  const r = await runCli(["apikey", "create", "--channel", CHANNEL, "--store", spec]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^kgy_[A-Za-z0-9_-]{43}\n$/);
  assert.match(r.stderr, /shown only this once/);
});

test("apikey bad input: one line on stderr, exit 2, nothing created", async () => {
  const before = JSON.parse((await runCli(["apikey", "list", "--json", "--store", spec])).stdout).length;
  const cases = [
    ["apikey", "create", "--store", spec],
    ["apikey", "create", "--channel", "12ab", "--store", spec],
    ["apikey", "create", "--channel", "9999999999", "--store", spec],
    ["apikey", "revoke", "nope", "--store", spec],
    ["apikey", "revoke", "ak_0000000000000000", "--store", spec],
    ["apikey", "create", "--channel", CHANNEL, "--bogus", "--store", spec],
    ["audit", "--channel", "x1", "--store", spec],
    ["audit", "--limit", "0", "--store", spec],
    ["audit", "--limit", "1e3", "--store", spec],
  ];
  for (const args of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
  }
  const after = JSON.parse((await runCli(["apikey", "list", "--json", "--store", spec])).stdout).length;
  assert.equal(after, before);
});

test("admin token prints a token once and stores only its hash", async () => {
  const r = await runCli(["admin", "token", "--store", spec]);
  assert.equal(r.code, 0, r.stderr);
  const token = r.stdout.trim();
  await assertAdminTokenStored(token);
});

/** The store holds the token's hash (and so accepts it, and no other), never the token. */
async function assertAdminTokenStored(token: string): Promise<void> {
  assert.match(token, /^kadm_[A-Za-z0-9_-]{43}$/);
  const store = await openStore(spec);
  try {
    assert.equal(await store.getMeta("admin.token.sha256"), hashApiKey(token));
  } finally {
    await store.close();
  }
}

test("admin token --json prints {adminToken} and nothing on stderr; the previous token stops working", async () => {
  const r = await runCli(["admin", "token", "--json", "--store", spec]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const { adminToken } = JSON.parse(r.stdout) as { adminToken: string };
  await assertAdminTokenStored(adminToken);
});
