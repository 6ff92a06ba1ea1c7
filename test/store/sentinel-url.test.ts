// `redis+sentinel://` store URLs: what they parse to, and one clear line for each bad one.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidInputError, KagiyaError } from "../../src/core/errors.ts";
import { openStore, parseStoreSpec } from "../../src/store/open.ts";
import { parseSentinelUrl } from "../../src/store/redis/sentinel-url.ts";
import { freePort } from "../faults/services.ts";

describe("redis+sentinel:// URLs", () => {
  it("name the sentinels (default port 26379), the master, the database and the master's credentials", () => {
    assert.deepEqual(parseSentinelUrl("redis+sentinel://10.0.0.1,10.0.0.2:26380/kagiya/2"), {
      sentinels: [{ host: "10.0.0.1", port: 26379 }, { host: "10.0.0.2", port: 26380 }],
      masterName: "kagiya",
      db: 2,
    });
    assert.deepEqual(parseSentinelUrl("redis+sentinel://:p%40ss@[::1]:5000,s.example/m%20x/"), {
      sentinels: [{ host: "::1", port: 5000 }, { host: "s.example", port: 26379 }],
      masterName: "m x",
      db: 0,
      password: "p@ss",
    });
    assert.deepEqual(parseSentinelUrl("redis+sentinel://app:pw@h:1/m"), { sentinels: [{ host: "h", port: 1 }], masterName: "m", db: 0, username: "app", password: "pw" });
    assert.deepEqual(parseSentinelUrl("redis+sentinel://app@h:1/m"), { sentinels: [{ host: "h", port: 1 }], masterName: "m", db: 0, username: "app" });
  });

  it("are a Redis store spec whose ?prefix= is taken off", () => {
    assert.deepEqual(parseStoreSpec("redis+sentinel://h1:26379,h2:26379/mymaster?prefix=app:"), { kind: "redis", url: "redis+sentinel://h1:26379,h2:26379/mymaster", prefix: "app:" });
    assert.deepEqual(parseStoreSpec("REDIS+SENTINEL://h1/m/3"), { kind: "redis", url: "redis+sentinel://h1/m/3" });
  });

  it("refuse bad URLs with one line that never shows the password", () => {
    const bad: Array<[string, RegExp]> = [
      ["redis+sentinel://", /no sentinel host/],
      ["redis+sentinel://:pw@/m", /no sentinel host/],
      ["redis+sentinel://:pw@h1:26379", /no master name/],
      ["redis+sentinel://:pw@h1:26379/", /no master name/],
      ["redis+sentinel://:pw@h1:99999/m", /port 99999 is out of range/],
      ["redis+sentinel://:pw@h1:x/m", /not a sentinel HOST\[:PORT\]/],
      ["redis+sentinel://:pw@h1,,h2/m", /not a sentinel HOST/],
      ["redis+sentinel://:pw@h1/m/db", /database must be a number/],
      ["redis+sentinel://:pw@h1/m/1/2", /too many path segments/],
      ["redis+sentinel://:pw@h1/m?db=2", /unknown parameter "db"/],
      ["redis+sentinel://:pw@h1/m%zz", /bad percent-encoding/],
    ];
    for (const [spec, re] of bad) {
      assert.throws(() => parseStoreSpec(spec), (e: unknown) => e instanceof InvalidInputError && re.test(e.message) && !e.message.includes("pw") && !e.message.includes("\n"), spec);
    }
  });

  it("with no sentinel listening, opening fails at once with ERR_STORE_UNAVAILABLE naming the master", async () => {
    const spec = `redis+sentinel://:secret@127.0.0.1:${await freePort()},127.0.0.1:${await freePort()}/kmaster`;
    await assert.rejects(openStore(spec, {}, { redis: { connectTimeoutMs: 500 } }), (e: unknown) => {
      assert.ok(e instanceof KagiyaError, String(e));
      assert.equal(e.code, "ERR_STORE_UNAVAILABLE");
      assert.match(e.message, /cannot reach Redis at redis\+sentinel:\/\/:\*\*\*@127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\/kmaster: .*are the sentinels running, and do they monitor "kmaster"\?/);
      assert.ok(!e.message.includes("secret") && !e.message.includes("\n"), e.message);
      return true;
    });
  });
});
