// Honesty: a planted violation for each invariant, on a quiet schedule (no faults of its own), so
// the test can show every check fails when what it guards is broken. Each plant either disables a
// safeguard (`--inbox memory` on one instance, a broker without the API-key stale-if-error window)
// or changes LINE's or the store's state the way a bug would. Each targets its own channel (or
// instance), named in `planted` for the test to find in the violations.
import { randomBytes } from "node:crypto";
import { parseFault } from "../../src/emulator/faults.ts";
import { tokenState } from "../../src/emulator/state.ts";
import { startBroker, type RunningBroker } from "../../src/server/broker.ts";
import { createApiKey, revokeApiKey } from "../../src/server/apikeys.ts";
import { openStore } from "../../src/store/open.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer } from "../../src/store/sealed.ts";
import type { Store } from "../../src/store/types.ts";
import { postForm, signAssertion } from "../helpers/emulator.ts";
import type { SoakPlants, SoakWorld } from "./run.ts";
import type { ReadTarget } from "./traffic.ts";
import { runKagiya, type SoakCredential } from "./world.ts";

/** The planted run's sizes: 15 one-hour steps, 2 instances, 8 credentials (v2.1 at 0, 1, 5, 6; LINE WORKS at 3 with rotating refresh tokens; an OAuth grant at 4). */
export const PLANTED_PARAMS = { seed: 7, days: 0.625, instances: 2, channels: 8, store: "redis", stepSeconds: 3600, stepMs: 700 } as const;

/** Issues a v2.1 token for `cred` at LINE behind kagiya's back (a second issuer without the lock). */
async function issueBehindKagiya(w: SoakWorld, cred: SoakCredential): Promise<string> {
  const assertion = signAssertion({ channelId: cred.id, kid: cred.kid, privateJwk: cred.privateJwk }, { nowSeconds: Math.floor(w.emu.state.now() / 1000), claims: { token_exp: 86400 } });
  const r = await postForm(`${w.emu.url}/oauth2/v2.1/token`, {
    grant_type: "client_credentials",
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: assertion,
  });
  if (r.status !== 200) throw new Error(`plant: LINE refused the extra issuance: ${r.status}`);
  return r.body.key_id as string;
}

/** Rolls `id`'s stored grant back to the refresh token before its current one in `chain` (oldest first). */
async function rollBack(w: SoakWorld, id: string, chain: readonly string[]): Promise<void> {
  const grant = await w.store.direct.getGrant(id);
  if (grant === null || chain.length < 2) throw new Error(`plant: ${id} has not refreshed by step 6 (${chain.length} refresh tokens)`);
  const registry = await ChannelRegistry.open(w.store.direct, new Sealer(MasterKey.parse(w.masterKey)));
  const current = registry.openGrant(grant);
  const before = chain[chain.indexOf(current.refreshToken) - 1];
  if (before === undefined) throw new Error(`plant: no refresh token before ${id}'s stored one`);
  const version = await w.store.direct.swapGrant(id, grant.version, { secret: registry.sealGrant(id, { ...current, refreshToken: before }), status: "active", updatedAt: w.emu.state.now() });
  if (version === null) throw new Error(`plant: ${id}'s grant moved while it was rolled back`);
}

export function createPlants(): SoakPlants {
  let plantKey: { id: string; key: string } | undefined;
  let broker: RunningBroker | undefined;
  let brokerStore: Store | undefined;
  let behind: string | undefined;
  const brokerTarget: ReadTarget = { index: 99, url: null, served: new Map(), keyAcceptedAt: new Map() };
  let mainKey: string | undefined;
  const v21 = (w: SoakWorld, n: number) => w.credentials.filter((c) => c.kind === "line-v2.1")[n]!;

  return {
    // Safeguard off: instance 1 keeps accepted webhook events in memory only.
    serveArgs: (i) => (i === 1 ? ["--inbox", "memory"] : []),

    async duringTick(step, tick, w) {
      // one-issuance-per-refresh: a token issued at LINE with no refresh point, kill or fault behind it.
      if (step === 2 && tick === 1) {
        w.planted["one-issuance-per-refresh"] = v21(w, 2).id;
        await issueBehindKagiya(w, v21(w, 2));
      }
      // tracked-or-orphan, part 1: a token kagiya will learn of only by a reconcile.
      if (step === 2 && tick === 2) behind = await issueBehindKagiya(w, v21(w, 3));
      // reads-served: reads with a key revoked at step 3, while the channel's token is valid in the store.
      if (step >= 4 && step <= 6 && tick === 1 && plantKey) {
        w.planted["reads-served"] = v21(w, 0).id;
        await w.traffic.read(w.instances[0]!, v21(w, 0), plantKey.key);
      }
      // reads-in-outage: a broker without the API-key stale-if-error window, read during an outage.
      if (step === 11 && broker && mainKey) {
        // Both the broker and a real `kagiya serve` read once while the store is up, and once while it is down.
        if (tick === 0) await Promise.all([w.traffic.read(brokerTarget, v21(w, 0), mainKey), w.traffic.read(w.instances[0]!, v21(w, 0), mainKey)]);
        if (tick === 1) {
          w.planted["reads-in-outage"] = `instance ${brokerTarget.index}`;
          w.store.proxy.cut();
          w.store.outage = true;
          w.disturb("plant");
          await Promise.all([w.traffic.read(brokerTarget, v21(w, 0), mainKey), w.traffic.read(w.instances[0]!, v21(w, 0), mainKey)]);
          w.store.proxy.restore();
          w.store.outage = false;
          w.store.restoredAt = Date.now();
        }
      }
      // webhooks-handled: events accepted by the in-memory inbox of instance 1, which is SIGKILLed
      // while LINE holds their replies.
      if (step === 12 && tick === 0) {
        w.planted["webhooks-handled"] = v21(w, 1).id;
        w.emu.faults.add(parseFault({ method: "POST", path: "/v2/bot/message/reply", delayMs: 3000, count: 2 }) as never);
        await w.traffic.deliver(w.instances[1]!, v21(w, 1), 2);
        w.disturb("plant");
        await w.instances[1]!.kill();
      }
    },

    async beforeChecks(step, w) {
      if (step === 1) {
        plantKey = await createApiKey(w.store.direct, { channels: [v21(w, 0).id], name: "plant" });
        mainKey = w.apiKey;
        brokerStore = await openStore(w.store.spec);
        const registry = await ChannelRegistry.open(brokerStore, new Sealer(MasterKey.parse(w.masterKey)));
        broker = await startBroker({ registry, lineApiBase: w.emu.url, worksAuthBase: w.emu.url, scheduler: false, bot: false, apiKeyStaleIfErrorMs: 0, now: () => w.emu.state.now(), log: { level: "silent" } });
        (brokerTarget as { url: string | null }).url = broker.url;
      }
      if (step === 3 && plantKey) await revokeApiKey(w.store.direct, plantKey.id);
      // cap-30: LINE holds 31 more valid tokens for the channel for one step.
      if (step === 3) {
        const id = v21(w, 1).id;
        w.planted["cap-30"] = id;
        const now = w.emu.state.now();
        for (let i = 0; i < 31; i++) {
          w.emu.state.addToken({ accessToken: `plant.${randomBytes(12).toString("hex")}.x`, kind: "v2.1", channelId: id, keyId: `plant-${randomBytes(8).toString("hex")}`, issuedAt: now, expiresAt: now + 3600_000, revokedAt: null });
        }
      }
      if (step === 4) for (const t of w.emu.state.tokensByChannel.get(v21(w, 1).id) ?? []) if (t.keyId?.startsWith("plant-")) w.emu.state.revoke(t);
      // tracked-or-orphan, part 2: a reconcile records it as an orphan; then the store loses that row.
      if (step === 5 && behind) {
        const id = v21(w, 3).id;
        w.planted["tracked-or-orphan"] = id;
        await runKagiya(["token", "reconcile", id, "--store", w.store.spec], w.env());
        await w.store.direct.setTokenState(id, behind, "revoked", null, w.emu.state.now());
      }
      // superseded-revoked: LINE forgets kagiya's revocations of this channel's superseded tokens.
      if (step >= 4 && step <= 10) {
        const id = v21(w, 0).id;
        const rows = await w.store.direct.listTokens(id);
        const current = (await w.store.direct.getCurrent(id)).token?.keyId;
        const now = w.emu.state.now();
        for (const t of w.emu.state.tokensByChannel.get(id) ?? []) {
          const row = rows.find((r) => r.keyId === t.keyId);
          if (row && row.generation >= 1 && t.keyId !== current && tokenState(t, now) === "revoked" && t.expiresAt > now) {
            t.revokedAt = null;
            w.planted["superseded-revoked"] = id;
          }
        }
      }
      // refresh-tokens: the store loses the newest refresh token of a LINE WORKS app and of an OAuth
      // grant (each grant rolled back to the one before, spent): not the newest, and kagiya will
      // send a spent one (which the OAuth provider answers by ending the grant).
      if (step === 6) {
        const app = w.credentials.find((c) => c.works?.refresh === "refresh-token" && c.works.rotation)!;
        await rollBack(w, app.id, (w.emu.refreshIssued.get(app.clientId!) ?? []).map((i) => i.record.token));
        w.planted["refresh-tokens"] = app.id;
        const grant = w.credentials.find((c) => c.kind === "oauth2")!;
        await rollBack(w, grant.id, [...w.oidc!.issued.values()].filter((i) => w.oidc!.owner(i.token) === grant.id).map((i) => i.token));
        w.planted["refresh-tokens (OAuth)"] = grant.id;
      }
      if (step === 13) await w.instances[1]!.start();
    },

    async close() {
      await broker?.close();
      await brokerStore?.close();
    },
  };
}
