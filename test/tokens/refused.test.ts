// A refused connection never reached LINE: the LINE client says not_sent, and the TokenManager
// issues again without first checking LINE's valid key IDs. A reset after sending, by contrast,
// is ambiguous and gets that check (so the check shown absent above can be present).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { clearFaults, injectFault } from "../helpers/emulator.ts";
import { LineNetworkError } from "../../src/clients/line/errors.ts";
import { LineHttp } from "../../src/clients/line/http.ts";
import { resolveLineConfig } from "../../src/clients/line/options.ts";
import { lineTokenApi } from "../../src/tokens/line.ts";
import type { LineTokenApi } from "../../src/tokens/upstream.ts";
import { tokenWorld, type TokenWorld } from "./setup.ts";

/** A loopback port nothing listens on: listened on, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** kagiya's LINE token API, sent to a closed port while `down`, else to the emulator; records the calls made. */
function switchable(w: TokenWorld, port: number): { api: LineTokenApi; calls: string[]; state: { down: boolean } } {
  const state = { down: true };
  const calls: string[] = [];
  const closed = lineTokenApi({ baseUrl: `http://127.0.0.1:${port}`, now: w.clock.now });
  const emulator = lineTokenApi({ baseUrl: w.emu.url, now: w.clock.now });
  const target = () => (state.down ? closed : emulator);
  return {
    state,
    calls,
    api: {
      issue: (channel, lifetime) => (calls.push("issue"), target().issue(channel, lifetime)),
      revoke: (channel, token) => (calls.push("revoke"), target().revoke(channel, token)),
      validKeyIds: (channel) => (calls.push("validKeyIds"), target().validKeyIds(channel)),
    },
  };
}

test("a refused connection is not_sent, never 'may have reached LINE', under every retry policy (and so retried by each)", async () => {
  const port = await closedPort();
  const sleeps: number[] = [];
  const http = new LineHttp(resolveLineConfig({ baseUrl: `http://127.0.0.1:${port}`, retry: { maxAttempts: 2 }, sleep: async (ms) => void sleeps.push(ms) }));
  for (const retry of ["idempotent", "unsafe", "messaging"] as const) {
    const e = await http.send({ method: "POST", path: "/oauth2/v2.1/token", retry, build: () => ({ form: { grant_type: "x" }, secrets: [] }), parse: () => null }).then(() => null, (err: unknown) => err);
    assert.ok(e instanceof LineNetworkError, retry);
    assert.equal(e.causeCode, "ECONNREFUSED");
    assert.equal(e.delivery, "not_sent");
    assert.equal(e.ambiguous, false);
    assert.equal(e.attempts, 2, `${retry}: retried, since it surely never reached LINE`);
    assert.match(e.message, /the request never reached LINE/);
    assert.doesNotMatch(e.message, /may have/);
  }
  assert.equal(sleeps.length, 3);
});

test("a refused issue is not ambiguous: once LINE answers, the manager issues without listing valid key IDs first", async () => {
  const w = await tokenWorld();
  const id = w.channel.channelId;
  const { api, calls, state } = switchable(w, await closedPort());
  const m = w.manager({ line: api });
  await assert.rejects(m.get(id));
  const failed = await m.status(id);
  assert.equal(failed.lastError?.code, "ERR_LINE_NETWORK");
  assert.match(failed.lastError?.message ?? "", /never reached LINE/);
  assert.doesNotMatch(failed.lastError?.message ?? "", /may have/);
  state.down = false;
  await w.clock.advance(600);
  const token = await m.get(id);
  assert.ok(token.accessToken.length > 0);
  assert.deepEqual(calls, ["issue", "issue"], "no key-ID check: nothing was sent, so nothing can have been issued");
});

test("a reset after sending is ambiguous: the manager lists valid key IDs before issuing again", async (t) => {
  const w = await tokenWorld();
  t.after(() => clearFaults(w.emu.url));
  const id = w.channel.channelId;
  const { api, calls, state } = switchable(w, await closedPort());
  state.down = false;
  await injectFault(w.emu.url, { method: "POST", path: "/oauth2/v2.1/token", reset: true, count: 1 });
  const m = w.manager({ line: api });
  await assert.rejects(m.get(id));
  await w.clock.advance(600);
  await m.get(id);
  assert.deepEqual(calls.slice(0, 3), ["issue", "validKeyIds", "issue"]);
});
