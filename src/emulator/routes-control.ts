// The control API under /__emulator/: set up channels and keys, read the ledger, move the
// clock, inject faults. JSON in and out; errors in the `{message}` shape.
import { randomUUID } from "node:crypto";
import { readJson, type Emulator, type Handler } from "./context.ts";
import { parseFault } from "./faults.ts";
import { messageError, send, type Ctx } from "./http.ts";
import { newChannelId, newChannelSecret, newUserId } from "./ids.ts";
import { publicMembers, registrationProblem } from "./jwk.ts";
import { tokenState, type Channel } from "./state.ts";
import { worksOf } from "./works-state.ts";

// The control API takes JSON whatever the Content-Type says (curl -d sends a form type).
const CONTROL_JSON = { anyContentType: true };
const CONTROL_JSON_EMPTY_OK = { anyContentType: true, allowEmpty: true };

function badRequest(ctx: Ctx, message: string): void {
  messageError(ctx, 400, message);
}

function channelOr404(ctx: Ctx, em: Emulator, channelId: string): Channel | undefined {
  const channel = em.state.channels.get(channelId);
  if (!channel) messageError(ctx, 404, `channel ${channelId} not found (create it with POST /__emulator/channels)`);
  return channel;
}

function describeChannel(c: Channel): Record<string, unknown> {
  return {
    channelId: c.channelId,
    channelSecret: c.channelSecret,
    botUserId: c.botUserId,
    keys: [...c.keys.values()].map((k) => ({ kid: k.kid, jwk: k.jwk, createdAt: k.createdAt })),
  };
}

/** POST /__emulator/channels */
export const createChannel: Handler = async (ctx, em) => {
  const body = await readJson(ctx, CONTROL_JSON_EMPTY_OK);
  if (!body) return;
  const { channelId, channelSecret, botUserId } = body;
  if (channelId !== undefined && (typeof channelId !== "string" || !/^\d{1,20}$/.test(channelId))) return badRequest(ctx, "channelId must be a string of digits");
  if (channelSecret !== undefined && (typeof channelSecret !== "string" || !/^[\x21-\x7e]{1,128}$/.test(channelSecret))) return badRequest(ctx, "channelSecret must be a non-empty printable string");
  if (botUserId !== undefined && (typeof botUserId !== "string" || !/^U[0-9a-f]{32}$/.test(botUserId))) return badRequest(ctx, "botUserId must be U followed by 32 hex digits");
  let id = channelId as string | undefined;
  if (id !== undefined && em.state.channels.has(id)) return messageError(ctx, 409, `channel ${id} already exists`);
  while (id === undefined || em.state.channels.has(id)) id = newChannelId();
  const c = em.state.addChannel(id, (channelSecret as string | undefined) ?? newChannelSecret(), (botUserId as string | undefined) ?? newUserId());
  send(ctx, 201, { channelId: c.channelId, channelSecret: c.channelSecret, botUserId: c.botUserId });
};

/** GET /__emulator/channels */
export const listChannels: Handler = (ctx, em) => {
  send(ctx, 200, { channels: [...em.state.channels.values()].map(describeChannel) });
};

/** GET /__emulator/channels/{id} */
export const getChannel = (channelId: string): Handler => (ctx, em) => {
  const c = channelOr404(ctx, em, channelId);
  if (c) send(ctx, 200, describeChannel(c));
};

/** POST /__emulator/channels/{id}/keys */
export const addKey = (channelId: string): Handler => async (ctx, em) => {
  const body = await readJson(ctx, CONTROL_JSON);
  if (!body) return;
  const c = channelOr404(ctx, em, channelId);
  if (!c) return;
  const problem = registrationProblem(body);
  if (problem) return badRequest(ctx, problem);
  const kid = randomUUID();
  em.state.addKey(c, kid, publicMembers(body));
  send(ctx, 201, { kid });
};

/** DELETE /__emulator/channels/{id}/keys/{kid} */
export const deleteKey = (channelId: string, kid: string): Handler => (ctx, em) => {
  const c = channelOr404(ctx, em, channelId);
  if (!c) return;
  if (!em.state.removeKey(c, kid)) return messageError(ctx, 404, `key ${kid} is not registered to channel ${channelId}`);
  send(ctx, 204);
};

/** GET /__emulator/channels/{id}/tokens: the issuance ledger. */
export const listTokens = (channelId: string): Handler => (ctx, em) => {
  const c = channelOr404(ctx, em, channelId);
  if (!c) return;
  const now = em.state.now();
  send(ctx, 200, { channelId, now, tokens: ledgerOf(em, channelId, now) });
};

/** A channel's issuance ledger as the control API shows it. */
export function ledgerOf(em: Emulator, channelId: string, now: number): Array<Record<string, unknown>> {
  return (em.state.tokensByChannel.get(channelId) ?? []).map((t) => ({
    kind: t.kind,
    key_id: t.keyId,
    access_token: t.accessToken,
    issuedAt: t.issuedAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
    state: tokenState(t, now),
  }));
}

function clockBody(em: Emulator): Record<string, unknown> {
  const now = em.state.now();
  return { now, iso: new Date(now).toISOString(), offsetSeconds: em.state.clockOffsetMs / 1000 };
}

/** GET /__emulator/clock */
export const getClock: Handler = (ctx, em) => send(ctx, 200, clockBody(em));

/** POST /__emulator/clock with {advanceSeconds} or {offsetSeconds}. */
export const setClock: Handler = async (ctx, em) => {
  const body = await readJson(ctx, CONTROL_JSON);
  if (!body) return;
  const { advanceSeconds, offsetSeconds } = body;
  const num = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  if ((advanceSeconds === undefined) === (offsetSeconds === undefined)) return badRequest(ctx, "give exactly one of advanceSeconds or offsetSeconds");
  if (advanceSeconds !== undefined) {
    if (!num(advanceSeconds)) return badRequest(ctx, "advanceSeconds must be a number");
    // The clock only moves forward by advance; offsetSeconds can set any offset (even negative).
    if ((advanceSeconds as number) < 0) return badRequest(ctx, "advanceSeconds must not be negative (set offsetSeconds to go back)");
    em.state.clockOffsetMs += Math.round((advanceSeconds as number) * 1000);
  } else {
    if (!num(offsetSeconds)) return badRequest(ctx, "offsetSeconds must be a number");
    em.state.clockOffsetMs = Math.round((offsetSeconds as number) * 1000);
  }
  em.state.changed();
  send(ctx, 200, clockBody(em));
};

/** POST /__emulator/faults */
export const addFault: Handler = async (ctx, em) => {
  const body = await readJson(ctx, CONTROL_JSON);
  if (!body) return;
  const spec = parseFault(body);
  if (typeof spec === "string") return badRequest(ctx, spec);
  const f = em.faults.add(spec);
  send(ctx, 201, { id: f.id });
};

/** GET /__emulator/faults */
export const listFaults: Handler = (ctx, em) => send(ctx, 200, { faults: em.faults.describe() });

/** DELETE /__emulator/faults */
export const clearFaults: Handler = (ctx, em) => {
  em.faults.clear();
  send(ctx, 204);
};

/** POST /__emulator/reset */
export const reset: Handler = (ctx, em) => {
  em.state.reset();
  worksOf(em).reset();
  em.faults.clear();
  send(ctx, 204);
};

/** GET /__emulator/messages[?channelId=] */
export const listMessages: Handler = (ctx, em) => {
  const channelId = new URLSearchParams(ctx.query).get("channelId");
  const messages = em.state.messages
    .filter((m) => channelId === null || m.channelId === channelId)
    .map((m) => ({ ...m }));
  send(ctx, 200, { messages });
};

/** DELETE /__emulator/messages */
export const clearMessages: Handler = (ctx, em) => {
  em.state.messages = [];
  send(ctx, 204);
};
