import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { HTTPFetchError } from "@line/bot-sdk";
import { postForm, sentMessages, tokenLedger } from "../helpers/emulator.ts";
import { createManagedMessagingApiClient } from "../../src/adapters/bot-sdk.ts";
import { tokenWorld } from "../tokens/setup.ts";
import { openStore } from "../../src/store/open.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer } from "../../src/store/sealed.ts";

const USER = "U" + "0123456789abcdef".repeat(2);

test("bot-sdk MessagingApiClient pushes with the managed token; after LINE revokes it: 401, invalidate, one new token, success", async () => {
  const w = await tokenWorld();
  const id = w.channel.channelId;
  const m = w.manager();
  const client = createManagedMessagingApiClient(m, id, { baseURL: w.emu.url });
  const first = await client.pushMessage({ to: USER, messages: [{ type: "text", text: "one" }] });
  assert.equal(first.sentMessages.length, 1);
  let ledger = await tokenLedger(w.emu.url, id);
  assert.equal(ledger.length, 1);

  // LINE stops accepting the token (revoked behind the client's back).
  const r = await postForm(`${w.emu.url}/oauth2/v2.1/revoke`, { client_id: id, client_secret: w.channel.channelSecret, access_token: ledger[0]!.access_token });
  assert.equal(r.status, 200);
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => client.pushMessage({ to: USER, messages: [{ type: "text", text: `again ${i}` }] })));
  for (const x of results) assert.equal(x.sentMessages.length, 1);
  ledger = await tokenLedger(w.emu.url, id);
  assert.equal(ledger.length, 2, "exactly one new issuance");
  assert.equal(ledger[1]!.state, "valid");
  const sent = await sentMessages(w.emu.url, id);
  assert.equal(sent.length, 11);
  assert.ok(sent.every((s: { kind: string }) => s.kind === "push"));
});

test("bot-sdk adapter: errors other than 401 pass through untouched, without a new token", async () => {
  const w = await tokenWorld();
  const id = w.channel.channelId;
  const client = createManagedMessagingApiClient(w.manager(), id, { baseURL: w.emu.url });
  await assert.rejects(client.pushMessage({ to: "not-a-user", messages: [{ type: "text", text: "x" }] }), (e: unknown) => e instanceof HTTPFetchError && e.status === 400);
  assert.equal((await tokenLedger(w.emu.url, id)).length, 1);
});

test("bot-sdk adapter sends to kagiya's LINE base URL (KAGIYA_LINE_API_BASE) when no baseURL is given", async () => {
  const w = await tokenWorld();
  const id = w.channel.channelId;
  const client = createManagedMessagingApiClient(w.manager(), id, { env: { KAGIYA_LINE_API_BASE: w.emu.url } });
  const r = await client.pushMessage({ to: USER, messages: [{ type: "text", text: "via the env" }] });
  assert.equal(r.sentMessages.length, 1);
  assert.deepEqual((await sentMessages(w.emu.url, id)).map((m: { body: { messages: Array<{ text: string }> } }) => m.body.messages[0]!.text), ["via the env"]);
  assert.throws(() => createManagedMessagingApiClient(w.manager(), id, { env: { KAGIYA_LINE_API_BASE: "ftp://x" } }), /KAGIYA_LINE_API_BASE must be an http or https URL/);
});

test("the README's SDK example, run as written in its own process against the emulator, pushes a message", async () => {
  const w = await tokenWorld();
  const id = w.channel.channelId;
  // A SQLite store the example opens by name, holding the world's channel (sealed with its key).
  const root = fileURLToPath(new URL("../..", import.meta.url));
  mkdirSync(join(root, ".tmp"), { recursive: true });
  // Inside the package, so `kagiya/...` resolves to this checkout as it does for an installed one.
  const dir = mkdtempSync(join(root, ".tmp", "readme-sdk-"));
  try {
    const db = join(dir, "kagiya.db");
    const store = await openStore(`sqlite:${db}`);
    await store.migrate();
    const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(w.masterKey)));
    await registry.add({ channelId: id, kid: w.channel.kid, privateKey: w.channel.privateJwk as never, channelSecret: w.channel.channelSecret });
    await store.close();
    writeFileSync(join(dir, "example.ts"), [
      `import { openTokenContext } from "kagiya/tokens";`,
      `import { createManagedMessagingApiClient } from "kagiya/adapters/bot-sdk";`,
      `const userId = "${USER}";`,
      `const { manager, close } = await openTokenContext({ manager: { actor: "worker" } });`,
      `const client = createManagedMessagingApiClient(manager, "${id}");   // create once, keep it`,
      `await client.pushMessage({ to: userId, messages: [{ type: "text", text: "hello" }] });`,
      `await close();`,
    ].join("\n"));
    // Asynchronously: the emulator answering it runs in this process.
    // The package's exports lead to dist/, which the repository has only after a build: the hooks
    // resolve them to the sources.
    await promisify(execFile)(process.execPath, ["--import", fileURLToPath(new URL("../helpers/source-hooks.ts", import.meta.url)), join(dir, "example.ts")], {
      cwd: dir,
      timeout: 30_000,
      env: { PATH: process.env["PATH"] ?? "", KAGIYA_LINE_API_BASE: w.emu.url, KAGIYA_MASTER_KEY: w.masterKey, KAGIYA_DB: db },
    });
    const sent = await sentMessages(w.emu.url, id);
    assert.deepEqual(sent.map((m: { kind: string; to: string; body: { messages: Array<{ text: string }> } }) => [m.kind, m.to, m.body.messages[0]!.text]), [["push", USER, "hello"]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
