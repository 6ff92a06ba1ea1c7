import { test } from "node:test";
import assert from "node:assert/strict";
import { ServeWhileRefreshing } from "../../src/server/serve-while-refreshing.ts";
import type { ManagedToken, TokenSource } from "../../src/tokens/types.ts";

const HOUR = 3_600_000;
const token = (keyId: string): ManagedToken => ({ channelId: "1234567890", accessToken: `t-${keyId}`, keyId, tokenType: "Bearer", issuedAt: Date.now(), expiresAt: Date.now() + HOUR });

/** A TokenSource whose next answer the test decides: a value, a failure, or one that never comes. */
class ScriptedSource implements TokenSource {
  next: () => Promise<ManagedToken> = () => Promise.resolve(token("a"));
  invalidated: string[] = [];
  get(): Promise<ManagedToken> {
    return this.next();
  }
  async invalidate(_channelId: string, keyId: string): Promise<void> {
    this.invalidated.push(keyId);
  }
}

test("a source that answers within the wait wins over the remembered token", async () => {
  const source = new ScriptedSource();
  const tokens = new ServeWhileRefreshing(source, { waitMs: 50 });
  assert.equal((await tokens.get("1234567890")).keyId, "a");
  source.next = () => Promise.resolve(token("b"));
  assert.equal((await tokens.get("1234567890")).keyId, "b");
});

test("a source that fails within the wait (revoked, removed) is not papered over with the remembered token", async () => {
  const source = new ScriptedSource();
  const tokens = new ServeWhileRefreshing(source, { waitMs: 50 });
  await tokens.get("1234567890");
  source.next = () => Promise.reject(new Error("channel removed"));
  await assert.rejects(tokens.get("1234567890"), /channel removed/);
});

test("a source still busy after the wait (a refresh at LINE) loses to the remembered token", async () => {
  const source = new ScriptedSource();
  const tokens = new ServeWhileRefreshing(source, { waitMs: 5 });
  await tokens.get("1234567890");
  let release!: (t: ManagedToken) => void;
  source.next = () => new Promise((resolve) => (release = resolve));
  assert.equal((await tokens.get("1234567890")).keyId, "a");
  release(token("c"));
  source.next = () => Promise.resolve(token("c"));
  assert.equal((await tokens.get("1234567890")).keyId, "c");
});

test("invalidate() forgets the remembered token, so a busy source is waited for", async () => {
  const source = new ScriptedSource();
  const tokens = new ServeWhileRefreshing(source, { waitMs: 5 });
  await tokens.get("1234567890");
  await tokens.invalidate("1234567890", "a");
  assert.deepEqual(source.invalidated, ["a"]);
  let release!: (t: ManagedToken) => void;
  source.next = () => new Promise((resolve) => (release = resolve));
  const pending = tokens.get("1234567890");
  setTimeout(() => release(token("d")), 20);
  assert.equal((await pending).keyId, "d");
});

test("peek() answers the source's in-memory token and remembers it for a later busy refresh; nothing when the source has none", async () => {
  const source = new ScriptedSource();
  let inMemory: ManagedToken | undefined;
  const peeking = Object.assign(source, { peek: () => inMemory });
  const tokens = new ServeWhileRefreshing(peeking, { waitMs: 5 });
  assert.equal(tokens.peek("1234567890"), undefined);
  inMemory = token("p");
  assert.equal(tokens.peek("1234567890")?.keyId, "p");
  // The store read at the next refresh point hangs: the token seen through peek() is served.
  inMemory = undefined;
  source.next = () => new Promise(() => {});
  assert.equal(tokens.peek("1234567890"), undefined);
  assert.equal((await tokens.get("1234567890")).keyId, "p");
});

test("peek() is undefined for a source without it", () => {
  assert.equal(new ServeWhileRefreshing(new ScriptedSource()).peek("1234567890"), undefined);
});

test("a token the source keeps handing out from memory stays confirmed: served past maxAge when a later refresh is busy", async () => {
  let now = 1_000_000;
  const source = new ScriptedSource();
  const a = token("a");
  const same = Promise.resolve(a);
  source.next = () => same;
  let inMemory: ManagedToken | undefined = a;
  const tokens = new ServeWhileRefreshing(Object.assign(source, { peek: () => inMemory }), { waitMs: 5, maxAgeMs: 60_000, now: () => now });
  await tokens.get("1234567890");
  // Ten minutes of reads, half through get() and half through peek(), all answered from memory.
  for (let minute = 1; minute <= 10; minute++) {
    now += 60_000;
    if (minute % 2 === 0) await tokens.get("1234567890");
    else assert.equal(tokens.peek("1234567890"), a);
  }
  inMemory = undefined;
  source.next = () => new Promise(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("the read waited on the busy source")), 1000)));
  try {
    assert.equal((await Promise.race([tokens.get("1234567890"), waited])).keyId, "a");
  } finally {
    clearTimeout(timer);
  }
});
