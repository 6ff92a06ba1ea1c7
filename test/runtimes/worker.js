// The Cloudflare Worker of the runtime test: /probe answers the probe's report, /received the events
// handled so far; every other path is kagiya's webhook handler as a Worker's fetch. Handlers run
// after the response, so the Worker hands the queue's drain to ctx.waitUntil: a Worker may not
// wait on one request's work from another.
import { probe, webhookHandler } from "./probe.js";

const received = [];
const handler = webhookHandler(received);

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/probe") return Response.json(await probe());
    if (url.pathname === "/received") return Response.json(received);
    const response = await handler(request);
    ctx.waitUntil(handler.drain());
    return response;
  },
};
