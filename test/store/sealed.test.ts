import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { InvalidInputError } from "../../src/core/errors.ts";
import { MasterKeyError, SealedValueError } from "../../src/store/errors.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { validateChannelId, validatePolicy } from "../../src/store/credential-input.ts";
import { loadSealer } from "../../src/store/rotate.ts";
import { generateMasterKeyText, loadMasterKey, MasterKey, readMasterKey, Sealer } from "../../src/store/sealed.ts";

const dir = mkdtempSync(join(tmpdir(), "kagiya-seal-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const ctx = { table: "channels", row: "1234567890", column: "channelSecret" } as const;

describe("master key", () => {
  it("parses 64 hex and base64 / base64url of 32 bytes to the same key", () => {
    const hex = generateMasterKeyText();
    assert.match(hex, /^[0-9a-f]{64}$/);
    const raw = Buffer.from(hex, "hex");
    const versions = [hex, hex.toUpperCase(), raw.toString("base64"), raw.toString("base64url"), `  ${hex}\n`].map((t) => MasterKey.parse(t).version);
    assert.equal(new Set(versions).size, 1);
    assert.match(versions[0]!, /^[0-9a-f]{8}$/);
  });

  it("refuses anything that is not 32 bytes, without echoing it", () => {
    for (const bad of ["", "abc", "zz".repeat(32), Buffer.alloc(31).toString("base64"), Buffer.alloc(33).toString("hex"), "0".repeat(63)]) {
      assert.throws(() => MasterKey.parse(bad, "KAGIYA_MASTER_KEY"), (e: unknown) =>
        e instanceof MasterKeyError && e.code === "ERR_MASTER_KEY_INVALID" && (bad === "" || !e.message.includes(bad)) && /kagiya keys new-master/.test(e.message));
    }
  });

  it("never prints key material", () => {
    const hex = generateMasterKeyText();
    const key = MasterKey.parse(hex);
    assert.equal(String(key).includes(hex), false);
    assert.equal(JSON.stringify({ key }).includes(hex.slice(0, 16)), false);
  });

  it("a missing key says how to create one", () => {
    assert.equal(readMasterKey({}), null);
    assert.throws(() => loadMasterKey({}), (e: unknown) => e instanceof MasterKeyError && e.code === "ERR_MASTER_KEY_MISSING" && /kagiya keys new-master/.test(e.message));
    assert.throws(() => loadSealer({}), (e: unknown) => e instanceof MasterKeyError && e.code === "ERR_MASTER_KEY_MISSING");
  });

  it("reads a 0600 key file and refuses one readable by group or others", () => {
    const hex = generateMasterKeyText();
    const file = join(dir, "master.key");
    writeFileSync(file, hex + "\n", { mode: 0o600 });
    chmodSync(file, 0o600);
    assert.equal(loadMasterKey({ KAGIYA_MASTER_KEY_FILE: file }).version, MasterKey.parse(hex).version);
    chmodSync(file, 0o640);
    assert.throws(() => loadMasterKey({ KAGIYA_MASTER_KEY_FILE: file }), (e: unknown) =>
      e instanceof MasterKeyError && e.code === "ERR_MASTER_KEY_FILE_PERMISSIONS" && e.message.includes("chmod 600") && !e.message.includes(hex));
    assert.throws(() => loadMasterKey({ KAGIYA_MASTER_KEY_FILE: join(dir, "nope") }), (e: unknown) => e instanceof MasterKeyError && e.code === "ERR_MASTER_KEY_MISSING");
    assert.throws(() => loadMasterKey({ KAGIYA_MASTER_KEY_FILE: file, KAGIYA_MASTER_KEY: hex }), (e: unknown) => e instanceof MasterKeyError && /only one/.test(e.message));
  });

  it("loadSealer also opens values under KAGIYA_MASTER_KEY_OLD", () => {
    const oldText = generateMasterKeyText();
    const sealed = new Sealer(MasterKey.parse(oldText)).seal("x", ctx);
    const s = loadSealer({ KAGIYA_MASTER_KEY: generateMasterKeyText(), KAGIYA_MASTER_KEY_OLD: oldText });
    assert.equal(s.open(sealed, ctx), "x");
    assert.notEqual(s.version, MasterKey.parse(oldText).version);
  });
});

describe("Sealer", () => {
  const sealer = new Sealer(MasterKey.parse(generateMasterKeyText()));

  it("seals to the documented format with a fresh nonce per write", () => {
    const a = sealer.seal("hello", ctx);
    const b = sealer.seal("hello", ctx);
    assert.match(a, new RegExp(`^v1\\.${sealer.version}\\.[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]+$`));
    assert.notEqual(a, b);
    assert.notEqual(a.split(".")[2], b.split(".")[2]);
    assert.equal(sealer.open(a, ctx), "hello");
    assert.equal(sealer.open(sealer.seal("", ctx), ctx), "");
    assert.equal(sealer.open(sealer.seal("日本語🔑", ctx), ctx), "日本語🔑");
  });

  it("binds table, row and column", () => {
    const s = sealer.seal("hello", ctx);
    for (const other of [{ ...ctx, row: "1234567891" }, { ...ctx, column: "privateKey" }, { ...ctx, table: "meta" as const }]) {
      assert.throws(() => sealer.open(s, other), (e: unknown) => e instanceof SealedValueError && e.code === "ERR_SEALED_CORRUPT" && !e.message.includes("hello"));
    }
  });

  it("detects tampering and malformed values", () => {
    const s = sealer.seal("hello", ctx);
    const [v, kv, n, body] = s.split(".") as [string, string, string, string];
    const flip = (t: string) => (t[0] === "A" ? "B" : "A") + t.slice(1);
    for (const bad of [`${v}.${kv}.${n}.${flip(body)}`, `${v}.${kv}.${flip(n)}.${body}`, `${v}.${kv}.${n}.${body.slice(0, 10)}`, "v2.x.y.z", "plain text", `${v}.${kv}.${n}`]) {
      assert.throws(() => sealer.open(bad, ctx), SealedValueError);
    }
    const other = new Sealer(MasterKey.parse(generateMasterKeyText()));
    assert.throws(() => other.open(s, ctx), (e: unknown) => e instanceof MasterKeyError && e.code === "ERR_MASTER_KEY_MISMATCH");
    assert.equal(other.canOpen(s), false);
    assert.equal(sealer.canOpen(s), true);
  });
});

describe("ChannelRegistry input checks", () => {
  it("channel IDs are 1-20 digits", () => {
    validateChannelId("1234567890");
    validateChannelId("1");
    for (const bad of ["", "12a", "../1", " 123", "1".repeat(21), "１２３", 123 as unknown as string]) {
      assert.throws(() => validateChannelId(bad), InvalidInputError);
    }
  });

  it("policy fields are checked", () => {
    assert.deepEqual(validatePolicy(undefined), {});
    assert.deepEqual(validatePolicy({ lifetimeSeconds: 86400, refreshMin: 0.6, refreshMax: 0.7 }), { lifetimeSeconds: 86400, refreshMin: 0.6, refreshMax: 0.7 });
    for (const bad of [{ lifetimeSeconds: 31 * 86400 }, { lifetimeSeconds: 1.5 }, { maxLiveTokens: 0 }, { refreshMin: 0.8, refreshMax: 0.7 }, { nope: 1 }, { minRemainingSeconds: "5" }, []]) {
      assert.throws(() => validatePolicy(bad), InvalidInputError, JSON.stringify(bad));
    }
  });

  it("add refuses bad input and duplicates, writes nothing", async () => {
    const store = new MemoryStore();
    const reg = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(generateMasterKeyText())));
    const jwk = { kty: "RSA", n: "n", e: "AQAB", d: "d" };
    await assert.rejects(reg.add({ channelId: "12x", kid: "k", privateKey: jwk, channelSecret: "s" }), InvalidInputError);
    await assert.rejects(reg.add({ channelId: "1", kid: "", privateKey: jwk, channelSecret: "s" }), InvalidInputError);
    await assert.rejects(reg.add({ channelId: "1", kid: "k", privateKey: { kty: "RSA", n: "n", e: "AQAB" }, channelSecret: "s" }), InvalidInputError);
    await assert.rejects(reg.add({ channelId: "1", kid: "k", privateKey: jwk, channelSecret: "" }), InvalidInputError);
    // An over-long secret is named as such (never shown).
    await assert.rejects(reg.add({ channelId: "1", kid: "k", privateKey: jwk, channelSecret: "z".repeat(1025) }), (e: Error) => /1025 characters, over the limit of 1024/.test(e.message) && !e.message.includes("zzzz"));
    assert.deepEqual(await store.listChannels(), []);
    await reg.add({ channelId: "1", kid: "k", privateKey: jwk, channelSecret: "s" });
    await assert.rejects(reg.add({ channelId: "1", kid: "k2", privateKey: jwk, channelSecret: "s" }), (e: unknown) => e instanceof InvalidInputError && e.code === "ERR_CHANNEL_EXISTS");
    const replaced = await reg.add({ channelId: "1", kid: "k2", privateKey: jwk, channelSecret: "s2" }, { replace: true });
    assert.equal(replaced.kid, "k2");
    assert.equal((await reg.require("1")).channelSecret, "s2");
    await reg.setPolicy("1", { maxLiveTokens: 2 });
    assert.deepEqual((await reg.require("1")).policy, { maxLiveTokens: 2 });
    await assert.rejects(reg.require("2"), (e: unknown) => (e as { code?: string }).code === "ERR_CHANNEL_NOT_FOUND");
    assert.equal(await reg.remove("1"), true);
    assert.equal(await reg.get("1"), null);
  });
});
