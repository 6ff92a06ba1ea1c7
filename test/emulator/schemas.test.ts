// Every response body the emulator produces, validated against LINE's own OpenAPI schemas.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { parse } from "yaml";
import {
  deliverTestWebhook, emulatorNowSeconds, issueTestToken, postForm, signAssertion,
  type TestChannel, type TestEmulator,
} from "../helpers/emulator.ts";
import { startEmulatorWithChannel, startWebhookReceiver, type WebhookReceiver } from "../helpers/emulator-fixture.ts";

// LINE's OpenAPI files, copied byte for byte with their Apache-2.0 notice (fixtures/SOURCES.md).
const REFERENCE = new URL("./fixtures/", import.meta.url);
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** Drops OpenAPI-only keywords that are not JSON Schema (discriminator needs oneOf in Ajv). */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "discriminator" || k === "externalDocs" || k === "example") continue;
    out[k] = toJsonSchema(v);
  }
  return out;
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
addFormats(ajv);
const docs: Record<string, any> = {};
for (const file of ["channel-access-token.yml", "messaging-api.yml", "webhook.yml"]) {
  const doc = toJsonSchema(parse(readFileSync(new URL(file, REFERENCE), "utf8"))) as Record<string, any>;
  docs[file] = doc;
  ajv.addSchema({ $id: file, components: doc["components"] });
}

/** Validates against `file#/components/schemas/name`, and refuses top-level members the schema does not define. */
function check(file: string, name: string, body: unknown): void {
  const validate = ajv.getSchema(`${file}#/components/schemas/${name}`);
  assert.ok(validate, `${file} ${name} not found`);
  assert.ok(validate(body), `${name}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(body)}`);
  const props = docs[file]!.components.schemas[name].properties as Record<string, unknown> | undefined;
  if (props) for (const k of Object.keys(body as object)) assert.ok(k in props, `${name} has no member ${k}`);
}

let emu: TestEmulator;
let ch: TestChannel;
let receiver: WebhookReceiver;
before(async () => {
  ({ emu, ch } = await startEmulatorWithChannel());
  receiver = await startWebhookReceiver();
});
after(async () => {
  await emu.close();
  await receiver.close();
});

const CAT = "channel-access-token.yml";
const MSG = "messaging-api.yml";

test("the schema check itself refuses wrong bodies", () => {
  assert.throws(() => check(CAT, "IssueChannelAccessTokenResponse", { access_token: "x", expires_in: 1, token_type: "Bearer" }), /key_id/);
  assert.throws(() => check(CAT, "VerifyChannelAccessTokenResponse", { client_id: "1", expires_in: "10" }), /integer/);
  assert.throws(() => check(MSG, "PushMessageResponse", { sentMessages: [{ id: 1 }] }), /string/);
  assert.throws(() => check(CAT, "ChannelAccessTokenKeyIdsResponse", { kids: [], extra: 1 }), /no member extra/);
  assert.throws(() => check("webhook.yml", "CallbackRequest", { destination: "U1", events: [] }), /pattern/);
});

test("channel access token responses match channel-access-token.yml", async () => {
  const now = await emulatorNowSeconds(emu.url);
  const v21 = await postForm(`${emu.url}/oauth2/v2.1/token`, { grant_type: "client_credentials", client_assertion_type: JWT_BEARER, client_assertion: signAssertion(ch, { nowSeconds: now }) });
  assert.equal(v21.status, 200);
  check(CAT, "IssueChannelAccessTokenResponse", v21.body);

  const kids = await fetch(`${emu.url}/oauth2/v2.1/tokens/kid?${new URLSearchParams({ client_assertion_type: JWT_BEARER, client_assertion: signAssertion(ch, { nowSeconds: now }) })}`);
  check(CAT, "ChannelAccessTokenKeyIdsResponse", await kids.json());

  const verify = await fetch(`${emu.url}/oauth2/v2.1/verify?access_token=${encodeURIComponent(v21.body.access_token)}`);
  check(CAT, "VerifyChannelAccessTokenResponse", await verify.json());

  const stateless = await postForm(`${emu.url}/oauth2/v3/token`, { grant_type: "client_credentials", client_id: ch.channelId, client_secret: ch.channelSecret });
  check(CAT, "IssueStatelessChannelAccessTokenResponse", stateless.body);

  const short = await postForm(`${emu.url}/v2/oauth/accessToken`, { grant_type: "client_credentials", client_id: ch.channelId, client_secret: ch.channelSecret });
  check(CAT, "IssueShortLivedChannelAccessTokenResponse", short.body);
  const shortVerify = await postForm(`${emu.url}/v2/oauth/verify`, { access_token: short.body.access_token });
  check(CAT, "VerifyChannelAccessTokenResponse", shortVerify.body);

  for (const err of [
    await postForm(`${emu.url}/oauth2/v2.1/token`, { grant_type: "client_credentials", client_assertion_type: JWT_BEARER, client_assertion: signAssertion(ch, { nowSeconds: now, claims: { exp: String(now + 60) } }) }),
    await postForm(`${emu.url}/v2/oauth/accessToken`, { grant_type: "client_credentials", client_id: ch.channelId, client_secret: "x" }),
    await postForm(`${emu.url}/oauth2/v3/token`, { grant_type: "client_credentials", client_id: ch.channelId, client_secret: "x" }),
  ]) {
    assert.equal(err.status, 400);
    check(CAT, "ErrorResponse", err.body);
    assert.deepEqual(Object.keys(err.body), ["error", "error_description"]);
  }
});

test("reply, push and their errors match messaging-api.yml; webhooks match webhook.yml", async () => {
  const { access_token } = await issueTestToken(emu.url, ch);
  const call = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(emu.url + path, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${access_token}`, ...headers }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const delivery = await deliverTestWebhook(emu.url, {
    channelId: ch.channelId, url: receiver.url,
    events: [{ type: "message", message: { type: "text", id: "468789577898262530", text: "hi", quoteToken: "q" } }, { type: "follow", follow: { isUnblocked: false } }, { type: "unfollow" }],
  });
  const webhook = JSON.parse(receiver.received.at(-1)?.body ?? "");
  check("webhook.yml", "CallbackRequest", webhook);
  check("webhook.yml", "MessageEvent", webhook.events[0]);
  check("webhook.yml", "FollowEvent", webhook.events[1]);
  check("webhook.yml", "UnfollowEvent", webhook.events[2]);

  const reply = await call("/v2/bot/message/reply", { replyToken: delivery.replyTokens[0], messages: [{ type: "text", text: "a" }] });
  assert.equal(reply.status, 200);
  check(MSG, "ReplyMessageResponse", reply.body);
  const key = randomUUID();
  const push = await call("/v2/bot/message/push", { to: "U" + "1".repeat(32), messages: [{ type: "text", text: "a" }, { type: "location", title: "t", address: "a", latitude: 1, longitude: 2 }] }, { "x-line-retry-key": key });
  assert.equal(push.status, 200);
  check(MSG, "PushMessageResponse", push.body);

  const errors = [
    await call("/v2/bot/message/push", { to: "U" + "1".repeat(32), messages: [{ type: "text", text: "a" }] }, { "x-line-retry-key": key }),
    await call("/v2/bot/message/reply", { replyToken: "nope", messages: [{ type: "text", text: "a" }] }),
    await call("/v2/bot/message/push", { to: "U", messages: [] }),
  ];
  assert.deepEqual(errors.map((e) => e.status), [409, 400, 400]);
  for (const e of errors) check(MSG, "ErrorResponse", e.body);
  const res401 = await fetch(`${emu.url}/v2/bot/message/push`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  assert.equal(res401.status, 401);
  check(MSG, "ErrorResponse", await res401.json());
});
