import { test } from "node:test";
import assert from "node:assert/strict";
import { HTTPFetchError } from "@line/bot-sdk";
import { postForm, sentMessages, tokenLedger } from "../helpers/emulator.ts";
import { createManagedMessagingApiClient } from "../../src/adapters/bot-sdk.ts";
import { tokenWorld } from "../tokens/setup.ts";

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
