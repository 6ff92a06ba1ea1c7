// Stores written by kagiya 0.1 (test/fixtures/stores/v0.1, made by make-v0.1.ts at commit 71208aa)
// upgrade in place: restored as they were, opened and migrated by this code, every channel,
// token, key ID, API key, audit row, webhook mark and coordination value is found intact, and the
// secrets still open with the fixture's master key.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import pg from "pg";
import { hashApiKey } from "../../src/server/apikeys.ts";
import { PostgresStore } from "../../src/store/postgres/store.ts";
import { RedisStore } from "../../src/store/redis/store.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer } from "../../src/store/sealed.ts";
import { SqliteStore } from "../../src/store/sqlite/store.ts";
import type { Store, TokenRow } from "../../src/store/types.ts";
import { DATABASE_URL, postgresSkip, randomNamespace, REDIS_URL, redisSkip } from "./services.ts";

const FIXTURES = new URL("../fixtures/stores/v0.1/", import.meta.url).pathname;
const expected = JSON.parse(readFileSync(join(FIXTURES, "expected.json"), "utf8")) as {
  masterKeyVersion: string;
  channels: Array<{ channelId: string; kid: string; channelSecret: string; n: string; policy: object; createdAt: number }>;
  tokens: Array<Omit<TokenRow, "accessToken"> & { accessToken: string | null; current: boolean }>;
  currentGeneration: Record<string, number>;
  apiKeys: Array<{ id: string; key: string; name: string; channels: string[]; revokedAt: number | null; lastUsedAt: number | null }>;
  audit: Array<Record<string, unknown>>;
  marks: string[];
  meta: Record<string, string>;
};
/** The fixture's fixed clock (make-v0.1.ts). */
const FIXTURE_T0 = 1_764_000_000_000;
const sealer = new Sealer(MasterKey.parse(readFileSync(join(FIXTURES, "master-key.txt"), "utf8"), "the fixture master key"));
const dir = mkdtempSync(join(tmpdir(), "kagiya-upgrade-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Everything the 0.1 store held, found through the upgraded store. */
async function assertIntact(store: Store): Promise<void> {
  assert.equal(sealer.version, expected.masterKeyVersion);
  const registry = await ChannelRegistry.open(store, sealer); // the 0.1 master-key check still verifies
  const channels = await registry.list();
  assert.deepEqual(
    channels.map((c) => [c.channelId, c.kind, c.kid, c.channelSecret, c.privateKey.n, typeof c.privateKey.d, c.policy, c.settings, c.secrets, c.createdAt]),
    expected.channels.map((c) => [c.channelId, "line-v2.1", c.kid, c.channelSecret, c.n, "string", c.policy, {}, {}, c.createdAt]),
  );
  for (const c of expected.channels) {
    const want = expected.tokens.filter((t) => t.channelId === c.channelId);
    const rows = await store.listTokens(c.channelId);
    // 0.1's setTokenState stamped updatedAt with the backend's own Date.now() (the defect this
    // version fixes), so that one row's updatedAt differs per backend: it is only later than T0.
    const stamped = (t: { channelId: string; keyId: string }) => t.channelId === "2222222222" && t.keyId === "k2-g0";
    for (const r of rows.filter(stamped)) assert.ok(r.updatedAt > FIXTURE_T0, `${r.keyId} updatedAt`);
    assert.deepEqual(
      rows.map(({ accessToken, ...r }) => ({ ...r, accessToken: accessToken === null ? null : registry.openAccessToken({ ...r, accessToken }), updatedAt: stamped(r) ? 0 : r.updatedAt })),
      want.map(({ current: _current, ...t }) => ({ ...t, updatedAt: stamped(t) ? 0 : t.updatedAt })),
      `tokens of ${c.channelId}`,
    );
    const cur = await store.getCurrent(c.channelId);
    assert.equal(cur.generation, expected.currentGeneration[c.channelId]);
    assert.equal(cur.token?.keyId, want.find((t) => t.current)?.keyId);
  }
  assert.ok(expected.tokens.some((t) => t.state === "superseded" && t.revokeAt !== null), "the fixture has a superseded token with revokeAt");
  assert.deepEqual(new Set(expected.tokens.map((t) => t.state)), new Set(["valid", "superseded", "revoked", "orphan"]));

  const keys = await store.listApiKeys();
  assert.deepEqual(
    keys.map((k) => [k.id, k.name, k.channels, k.revokedAt, k.lastUsedAt]).sort(),
    expected.apiKeys.map((k) => [k.id, k.name, k.channels, k.revokedAt, k.lastUsedAt]).sort(),
  );
  for (const k of expected.apiKeys) assert.equal((await store.getApiKeyByHash(hashApiKey(k.key)))?.id, k.id);
  assert.deepEqual((await store.listAudit()).reverse().map(({ id: _id, ...r }) => r), expected.audit);
  for (const m of expected.marks) {
    assert.equal(await store.isMarked(m), true, m);
    assert.equal(await store.markOnce(m, 60_000), false, m);
  }

  // The manager's 0.1 meta values, carried into the typed coordination store (and left in meta).
  const intent = JSON.parse(expected.meta["tokens.issuing.1111111111"]!) as { at: number; pid: number };
  assert.deepEqual(await store.getIssueIntent("1111111111"), { owner: `legacy:${intent.pid}`, at: intent.at });
  assert.deepEqual(await store.getBackoff("1111111111"), JSON.parse(expected.meta["tokens.backoff.1111111111"]!));
  assert.deepEqual([await store.getIssueIntent("2222222222"), await store.getBackoff("2222222222")], [null, null], "an empty value meant none");
  for (const [name, value] of Object.entries(expected.meta)) assert.equal(await store.getMeta(name), value, name);

  // The upgraded store works on: migrate again is a no-op, the next commit fences on the old generation.
  await store.migrate();
  const one = expected.channels[0]!.channelId;
  const now = 1_764_100_000_000;
  const next = { channelId: one, keyId: "k1-next", accessToken: registry.sealAccessToken(one, "k1-next", "next"), generation: 0, state: "valid" as const, issuedAt: now, expiresAt: now + 1e9, refreshAt: now + 1e8, revokeAt: null, updatedAt: now };
  assert.equal(await store.commitToken(one, expected.currentGeneration[one]!, next, now + 600_000), true);
  assert.equal((await store.getCurrent(one)).generation, expected.currentGeneration[one]! + 1);
  // Grants came after 0.1: none for the old channels, and the new role works on the upgraded store.
  assert.equal(await store.getGrant(one), null);
  assert.equal(await store.swapGrant(one, 0, { secret: registry.sealGrant(one, { refreshToken: "rt-after-upgrade" }), status: "active", updatedAt: now }), 1);
  assert.equal(registry.openGrant((await store.getGrant(one))!).refreshToken, "rt-after-upgrade");
}

const [redisSkipped, postgresSkipped] = [await redisSkip(), await postgresSkip()];

/** A SQL store at schema 1 migrates to a later version and keeps everything. */
async function migrateFromSchema1(store: Store & { schemaVersion(): Promise<number> }): Promise<void> {
  assert.equal(await store.schemaVersion(), 1);
  await store.migrate();
  assert.ok((await store.schemaVersion()) > 1);
  await assertIntact(store);
}

describe("upgrade of a kagiya 0.1 store", () => {
  it("SQLite: the 0.1 file migrates in place (schema 1 → current) with everything intact", async () => {
    const path = join(dir, "v0.1.db");
    copyFileSync(join(FIXTURES, "kagiya.db"), path);
    const store = new SqliteStore({ path });
    try {
      await migrateFromSchema1(store);
    } finally {
      await store.close();
    }
  });

  it("Redis: the 0.1 keys, restored with real commands, upgrade (layout 1 → current) with everything intact", { skip: redisSkipped }, async () => {
    const dump = JSON.parse(readFileSync(join(FIXTURES, "redis.json"), "utf8")) as { keys: Array<{ key: string; type: string; value: unknown; pttl: number }> };
    const prefix = `${randomNamespace("upgrade")}:`;
    const store = await RedisStore.connect({ url: REDIS_URL, prefix });
    try {
      const c = store.client;
      for (const { key, type, value, pttl } of dump.keys) {
        const k = prefix + key;
        if (type === "string") await c.set(k, value as string);
        else if (type === "hash") await c.hset(k, value as Record<string, string>);
        else if (type === "set") await c.sadd(k, ...(value as string[]));
        else if (type === "list") await c.rpush(k, ...(value as string[]));
        else assert.fail(`unexpected type ${type} in the fixture`);
        if (pttl > 0) await c.pexpire(k, pttl);
      }
      assert.equal(await c.get(`${prefix}layout`), "1");
      await store.migrate();
      assert.notEqual(await c.get(`${prefix}layout`), "1");
      await assertIntact(store);
    } finally {
      await store.destroy();
      await store.close();
    }
  });

  it("PostgreSQL: the 0.1 pg_dump, restored into a fresh schema, migrates (schema 1 → current) with everything intact", { skip: postgresSkipped }, async () => {
    const schema = randomNamespace("upgrade");
    // pg_dump's `\restrict` / `\unrestrict` lines are psql meta-commands, not SQL: left out here.
    const sql = readFileSync(join(FIXTURES, "postgres.sql"), "utf8").replace(/^\\.*$/gm, "").replaceAll("kagiya_v01_fixture", schema);
    // Its own connection: the dump resets search_path, which must not leak into a pool.
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
    const store = await PostgresStore.connect({ url: DATABASE_URL, schema });
    try {
      await migrateFromSchema1(store);
    } finally {
      await store.destroy();
      await store.close();
    }
  });
});
