// The control API's bulk calls, for tests and benches at scale: create many channels with one
// public key registered to each in one call, and read many channels' token ledgers in one call.
import { randomUUID } from "node:crypto";
import { readJson, type Handler } from "./context.ts";
import { messageError, send } from "./http.ts";
import { newChannelId, newChannelSecret, newUserId } from "./ids.ts";
import { publicMembers, registrationProblem } from "./jwk.ts";
import { ledgerOf } from "./routes-control.ts";

/** Most channels one bulk call creates or reads. */
export const BULK_MAX = 10_000;

/**
 * POST /__emulator/bulk/channels `{count, publicKey}`: creates `count` channels (new IDs and
 * secrets) and registers `publicKey` (a public JWK, checked as POST /channels/{id}/keys checks it)
 * to each; 201 `{channels: [{channelId, channelSecret, botUserId, kid}]}`. All or nothing: a bad
 * body creates none.
 */
export const createChannels: Handler = async (ctx, em) => {
  const body = await readJson(ctx, { anyContentType: true });
  if (!body) return;
  const { count, publicKey } = body;
  if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > BULK_MAX) return messageError(ctx, 400, `count must be an integer from 1 to ${BULK_MAX}`);
  const problem = registrationProblem(publicKey);
  if (problem) return messageError(ctx, 400, `publicKey: ${problem}`);
  const jwk = publicMembers(publicKey as Record<string, unknown>);
  const channels: Array<Record<string, string>> = [];
  for (let i = 0; i < count; i++) {
    let id = newChannelId();
    while (em.state.channels.has(id)) id = newChannelId();
    const c = em.state.addChannel(id, newChannelSecret(), newUserId());
    const kid = randomUUID();
    em.state.addKey(c, kid, jwk);
    channels.push({ channelId: c.channelId, channelSecret: c.channelSecret, botUserId: c.botUserId, kid });
  }
  send(ctx, 201, { channels });
};

/**
 * POST /__emulator/bulk/ledgers `{channelIds}`: the issuance ledger of each channel, as GET
 * /channels/{id}/tokens gives it; 200 `{now, ledgers: {id: tokens}}`. Unknown IDs get no entry.
 */
export const readLedgers: Handler = async (ctx, em) => {
  const body = await readJson(ctx, { anyContentType: true });
  if (!body) return;
  const ids = body["channelIds"];
  if (!Array.isArray(ids) || ids.length > BULK_MAX || !ids.every((id) => typeof id === "string")) return messageError(ctx, 400, `channelIds must be an array of at most ${BULK_MAX} strings`);
  const now = em.state.now();
  const ledgers: Record<string, unknown> = {};
  for (const id of ids as string[]) {
    if (!em.state.channels.has(id)) continue;
    ledgers[id] = ledgerOf(em, id, now);
  }
  send(ctx, 200, { now, ledgers });
};
