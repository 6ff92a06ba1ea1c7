import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { generateMasterKeyText, MasterKey, Sealer } from "../../src/store/sealed.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import { runCli } from "../helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "kagiya-master-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const jwk = { kty: "RSA", n: "bm9wZQ", e: "AQAB", d: "c2VjcmV0LWQtbWVtYmVy" };

async function seedStore(path: string, key: string, channels: number): Promise<void> {
  const store = new SqliteStore({ path });
  await store.migrate();
  const reg = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(key)));
  for (let i = 1; i <= channels; i++) {
    await reg.add({ channelId: String(1000 + i), kid: "kid", privateKey: jwk, channelSecret: `secret-${i}` });
    await store.putToken({ channelId: String(1000 + i), keyId: "k", accessToken: reg.sealAccessToken(String(1000 + i), "k", `tok-${i}`), generation: 1, state: "valid", issuedAt: 1, expiresAt: 2, refreshAt: 2, revokeAt: null, updatedAt: 1 });
  }
  await store.close();
}

async function secrets(path: string, key: string): Promise<string[]> {
  const store = new SqliteStore({ path });
  try {
    const reg = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(key)));
    return (await reg.list()).map((c) => c.channelSecret);
  } finally {
    await store.close();
  }
}

describe("kagiya keys new-master", () => {
  it("prints a fresh 64-hex key each time", async () => {
    const a = await runCli(["keys", "new-master"]);
    const b = await runCli(["keys", "new-master"]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /^[0-9a-f]{64}\n$/);
    assert.notEqual(a.stdout, b.stdout);
    const c = await runCli(["keys", "new-master", "--base64"]);
    assert.equal(MasterKey.parse(c.stdout).version.length, 8);
  });

  it("--out writes a 0600 file and never overwrites", async () => {
    const file = join(dir, "new.key");
    const r = await runCli(["keys", "new-master", "--out", file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal(statSync(file).mode & 0o077, 0);
    MasterKey.parse(readFileSync(file, "utf8"));
    const again = await runCli(["keys", "new-master", "--out", file]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists/);
  });
});

describe("kagiya keys rotate-master", () => {
  it("re-seals a SQLite store end to end, resumable with --limit, idempotent", async () => {
    const path = join(dir, "rotate.db");
    const oldKey = generateMasterKeyText();
    const newKey = generateMasterKeyText();
    await seedStore(path, oldKey, 3);
    const env = { KAGIYA_DB: path, KAGIYA_MASTER_KEY: newKey, KAGIYA_MASTER_KEY_OLD: oldKey };

    const partial = await runCli(["keys", "rotate-master", "--limit", "5", "--json"], { env });
    assert.equal(partial.code, 0, partial.stderr);
    assert.deepEqual(JSON.parse(partial.stdout).resealed, 5);
    assert.equal(JSON.parse(partial.stdout).complete, false);
    // interrupted half-way: processes given both keys read everything
    assert.deepEqual(await secretsWithBoth(path, newKey, oldKey), ["secret-1", "secret-2", "secret-3"]);

    const rest = await runCli(["keys", "rotate-master", "--store", `sqlite:${path}`], { env: { KAGIYA_MASTER_KEY: newKey, KAGIYA_MASTER_KEY_OLD: oldKey } });
    assert.equal(rest.code, 0, rest.stderr);
    assert.match(rest.stdout, /re-sealed 5 value\(s\); 5 already under key version/);
    assert.match(rest.stdout, /rotation complete/);
    assert.deepEqual(await secrets(path, newKey), ["secret-1", "secret-2", "secret-3"]);
    await assert.rejects(secrets(path, oldKey), (e: unknown) => (e as { code?: string }).code === "ERR_MASTER_KEY_MISMATCH");

    const again = await runCli(["keys", "rotate-master", "--json"], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { resealed: 0, skipped: 10, total: 10, complete: true, version: MasterKey.parse(newKey).version });
    for (const out of [partial, rest, again]) {
      for (const s of [oldKey, newKey, "secret-1", "tok-1"]) assert.equal((out.stdout + out.stderr).includes(s), false);
    }
  });

  it("bad input: one line, exit 2, nothing written", async () => {
    const path = join(dir, "bad.db");
    const oldKey = generateMasterKeyText();
    await seedStore(path, oldKey, 1);
    const cases: Array<[Record<string, string>, string[], RegExp]> = [
      [{ KAGIYA_DB: path }, [], /no master key.*kagiya keys new-master/],
      [{ KAGIYA_DB: path, KAGIYA_MASTER_KEY: generateMasterKeyText() }, [], /KAGIYA_MASTER_KEY_OLD/],
      [{ KAGIYA_DB: path, KAGIYA_MASTER_KEY: oldKey, KAGIYA_MASTER_KEY_OLD: oldKey }, [], /same key/],
      [{ KAGIYA_DB: path, KAGIYA_MASTER_KEY: generateMasterKeyText(), KAGIYA_MASTER_KEY_OLD: generateMasterKeyText() }, [], /neither the old key/],
      [{ KAGIYA_MASTER_KEY: generateMasterKeyText(), KAGIYA_MASTER_KEY_OLD: oldKey }, ["--store", "ftp://x"], /unknown store/],
      [{ KAGIYA_MASTER_KEY: "not-a-key", KAGIYA_MASTER_KEY_OLD: oldKey }, [], /KAGIYA_MASTER_KEY is not a master key/],
      [{ KAGIYA_MASTER_KEY: generateMasterKeyText(), KAGIYA_MASTER_KEY_OLD: oldKey }, ["--limit", "0"], /--limit/],
    ];
    for (const [env, args, re] of cases) {
      const r = await runCli(["keys", "rotate-master", ...args], { env, cwd: dir });
      assert.equal(r.code, 2, `${re}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    assert.deepEqual(await secrets(path, oldKey), ["secret-1"]);
  });
});

async function secretsWithBoth(path: string, newKey: string, oldKey: string): Promise<string[]> {
  const store = new SqliteStore({ path });
  try {
    const reg = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(newKey), [MasterKey.parse(oldKey)]));
    return (await reg.list()).map((c) => c.channelSecret);
  } finally {
    await store.close();
  }
}
