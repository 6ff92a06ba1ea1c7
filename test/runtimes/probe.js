// Runs unchanged on Node, Deno, Bun and workerd: kagiya's web-standard core (compiled to dist/ by
// the test) signs and verifies a LINE assertion, and the (Request) => Promise<Response> webhook
// handler takes one signed delivery (200, event handled) and one with a bad signature (401).
// Plain JavaScript, so that every runtime loads it as it is.
import { createLineAssertion, generateAssertionKeyPair, importAssertionKey, importVerifyKey, signWebhookBody, verifyJws } from "./dist/core/index.js";
import { createWebhookHandler } from "./dist/webhook/index.js";

export const CHANNEL_ID = "1234567890";
export const CHANNEL_SECRET = "8c570fa6dd201bb328f1c1eac23a96d8";

/** A webhook handler for one channel that records the events it is given. */
export function webhookHandler(received) {
  return createWebhookHandler({ channelSecret: CHANNEL_SECRET, channelId: CHANNEL_ID, onEvent: (event) => void received.push(event.webhookEventId) });
}

/** One delivery of one message event, signed with `secret`. */
export async function delivery(url, secret, eventId) {
  const body = JSON.stringify({
    destination: "U8e742f61d673b39c7fff3cecb7536ef0",
    events: [{ type: "message", mode: "active", timestamp: 1700000000000, webhookEventId: eventId, deliveryContext: { isRedelivery: false },
      source: { type: "user", userId: "U4af4980629aaaaaaaaaaaaaaaaaaaaaaaa" }, replyToken: "r".repeat(32),
      message: { id: "1", type: "text", quoteToken: "q", text: "hello" } }],
  });
  return new Request(url, { method: "POST", body, headers: { "content-type": "application/json", "x-line-signature": await signWebhookBody(secret, body) } });
}

/** Everything the runtime test checks, as one JSON-able report. */
export async function probe() {
  const { privateJwk, publicJwk } = await generateAssertionKeyPair();
  const key = await importAssertionKey(privateJwk);
  const jwt = await createLineAssertion(key, { channelId: CHANNEL_ID, kid: "runtime-kid" });
  const verified = await verifyJws(jwt, await importVerifyKey(publicJwk));
  const received = [];
  const handler = webhookHandler(received);
  const url = `https://bot.example/webhook/${CHANNEL_ID}`;
  const good = await handler(await delivery(url, CHANNEL_SECRET, "01GOODEVENT0000000000000000"));
  const bad = await handler(await delivery(url, "0".repeat(32), "01BADEVENT00000000000000000"));
  await handler.drain();
  return { backend: key.backend, assertionValid: verified.valid, header: verified.header, good: good.status, bad: bad.status, received };
}
