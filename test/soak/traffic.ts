// What the soak sends to kagiya throughout: token API reads (checked against the store as they
// happen) and webhook deliveries signed by the channel's secret, with LINE's redeliveries of those
// not answered 200 and replays of some that were.
import type { Store } from "../../src/store/types.ts";
import type { SoakEmulator } from "./emulator.ts";
import type { InvariantBook } from "./invariants.ts";
import { MAX_SKEW_MS } from "./schedule.ts";
import type { ServeInstance, SoakCredential, SoakStore } from "./world.ts";

/** Where a read goes: a `kagiya serve` process (or, for a plant, a broker in this process). */
export interface ReadTarget {
  readonly index: number;
  readonly url: string | null;
  /** Tokens it served since it started, by credential index: what it holds in memory. */
  served: Map<number, { expiresAt: number; at: number }>;
  /** Emulator time it last accepted each API key. */
  keyAcceptedAt: Map<string, number>;
}

/** A token is "valid in the store" for the read checks when it has this much life left beyond kagiya's 5 min floor. */
const VALID_MARGIN_MS = 300_000 + MAX_SKEW_MS + 10_000;
/** Reads this soon (real ms) after the store came back are not checked: clients are reconnecting. */
export const RECOVERY_MS = 3000;
/** A process that accepted the API key this recently (emulator ms) may use its cached check while the store is down. */
const KEY_FRESH_MS = 240_000;

export interface TrafficStats {
  readsOk: number;
  readsFailed: number;
  deliveries: number;
  deliveriesAccepted: number;
  deliveriesRefused: number;
  redeliveries: number;
  replays: number;
}

interface Sent {
  channelId: string;
  body: string;
  signature: string;
  replyTokens: string[];
  /** The events' webhookEventIds, in the order of replyTokens (every event sent is a text message). */
  eventIds: string[];
}

export class Traffic {
  readonly stats: TrafficStats = { readsOk: 0, readsFailed: 0, deliveries: 0, deliveriesAccepted: 0, deliveriesRefused: 0, redeliveries: 0, replays: 0 };
  /** Reply tokens of every event answered 200: each must get its reply at LINE (or its handler fail in a log). */
  readonly accepted = new Map<string, { channelId: string; at: number; eventId: string }>();
  /** Deliveries not answered 200 yet: LINE sends them again. */
  readonly unanswered: Sent[] = [];
  /** Deliveries answered 200, for replays. */
  readonly answered: Sent[] = [];
  readonly #emu: SoakEmulator;
  readonly #store: SoakStore;
  readonly #book: InvariantBook;
  #eventSeq = 0;

  constructor(emu: SoakEmulator, store: SoakStore, book: InvariantBook) {
    this.#emu = emu;
    this.#store = store;
    this.#book = book;
  }

  get #direct(): Store {
    return this.#store.direct;
  }

  async #validInStore(channelId: string, now: number): Promise<boolean> {
    const cur = await this.#direct.getCurrent(channelId);
    return cur.token !== null && cur.token.state === "valid" && cur.token.expiresAt - VALID_MARGIN_MS > now;
  }

  /** One token API read, checked: what the store held before and after, and the outage rule. */
  async read(inst: ReadTarget, cred: SoakCredential, apiKey: string): Promise<boolean> {
    const url = inst.url;
    if (url === null) return false;
    const storeDown = this.#store.outage;
    const recovering = !storeDown && Date.now() - this.#store.restoredAt < RECOVERY_MS;
    const before = this.#emu.state.now();
    const validBefore = storeDown || recovering ? false : await this.#validInStore(cred.id, before).catch(() => false);
    // What this process holds in memory, and whether its check of the key is fresh enough.
    const held = inst.served.get(cred.index);
    const holds = held !== undefined && held.expiresAt - VALID_MARGIN_MS > before && before - (inst.keyAcceptedAt.get(apiKey) ?? -Infinity) < KEY_FRESH_MS;
    let ok = false;
    let status = "no answer";
    try {
      const res = await fetch(url + cred.tokenPath, { headers: { authorization: `Bearer ${apiKey}` }, signal: AbortSignal.timeout(15_000) });
      status = String(res.status);
      if (res.status === 200) {
        const body = (await res.json()) as { expires_at: number };
        const now = this.#emu.state.now();
        inst.served.set(cred.index, { expiresAt: body.expires_at * 1000, at: now });
        inst.keyAcceptedAt.set(apiKey, now);
        ok = true;
      } else {
        const text = await res.text();
        const code = /"(?:error|code)":"(ERR_[A-Z_]+)"/.exec(text)?.[1];
        if (code) status += ` ${code}`;
      }
    } catch (error) {
      status = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
    }
    if (ok) this.stats.readsOk++;
    else this.stats.readsFailed++;
    if (!ok && inst.url !== url) {
      // The process was SIGKILLed while it answered (a kill the provider's proxy made): not a read to judge.
      this.#book.note("reads-served", "cut by a kill while in flight (not checked)");
      return ok;
    }
    const downNow = storeDown || this.#store.outage;
    if (downNow) {
      if (holds) this.#book.check("reads-in-outage", ok, () => `instance ${inst.index}, ${cred.id}: ${status} while the store was down, holding a token valid until ${new Date(held.expiresAt).toISOString()}`);
      else this.#book.note("reads-in-outage", "reads with nothing held (not checked)");
      return ok;
    }
    if (recovering || Date.now() - this.#store.restoredAt < RECOVERY_MS) {
      this.#book.note("reads-served", "reads while the store reconnects (not checked)");
      return ok;
    }
    if (!validBefore) {
      if (!ok) this.#book.note("reads-served", "failed with no valid token in the store");
      return ok;
    }
    // A valid token was in the store before the read; a failure counts if it still is.
    const validAfter = ok ? true : await this.#validInStore(cred.id, this.#emu.state.now()).catch(() => false);
    this.#book.check("reads-served", ok || !validAfter, () => `instance ${inst.index}, ${cred.id}: ${status} with a valid token in the store`);
    return ok;
  }

  /** A new delivery of `events` text messages through the emulator (signed with the channel's secret). */
  async deliver(inst: ServeInstance, cred: SoakCredential, events: number): Promise<void> {
    if (inst.url === null) return;
    this.stats.deliveries++;
    const list = Array.from({ length: events }, () => {
      const n = ++this.#eventSeq;
      return { type: "message", message: { type: "text", id: `soak-${n}`, text: `soak ${n}` } };
    });
    const res = await fetch(`${this.#emu.url}/__emulator/webhooks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ channelId: cred.id, url: `${inst.url}/webhook/${cred.id}`, events: list }) });
    const r = (await res.json()) as { status: number | null; replyTokens: string[]; webhookEventIds: string[]; body: string; signature: string };
    // Reply tokens live for the whole run: an event handled late (after a takeover) still leaves its reply.
    for (const t of r.replyTokens) {
      const rt = this.#emu.state.replyTokens.get(t);
      if (rt) rt.expiresAt = Number.MAX_SAFE_INTEGER;
    }
    const sent: Sent = { channelId: cred.id, body: r.body, signature: r.signature, replyTokens: r.replyTokens, eventIds: r.webhookEventIds };
    this.#settle(sent, r.status);
  }

  #settle(sent: Sent, status: number | null): void {
    if (status === 200) {
      this.stats.deliveriesAccepted++;
      const now = this.#emu.state.now();
      for (const [i, t] of sent.replyTokens.entries()) if (!this.accepted.has(t)) this.accepted.set(t, { channelId: sent.channelId, at: now, eventId: sent.eventIds[i]! });
      this.answered.push(sent);
    } else {
      this.stats.deliveriesRefused++;
      this.unanswered.push(sent);
    }
  }

  /** Sends the same bytes again to `inst`: LINE's redelivery of an unanswered one, or a replay of an answered one. */
  async resend(inst: ServeInstance, sent: Sent, kind: "redelivery" | "replay"): Promise<void> {
    if (inst.url === null) return;
    if (kind === "redelivery") this.stats.redeliveries++;
    else this.stats.replays++;
    let status: number | null = null;
    try {
      const res = await fetch(`${inst.url}/webhook/${sent.channelId}`, { method: "POST", headers: { "content-type": "application/json; charset=utf-8", "x-line-signature": sent.signature }, body: sent.body, signal: AbortSignal.timeout(15_000) });
      status = res.status;
      await res.body?.cancel();
    } catch {
      status = null;
    }
    if (kind === "redelivery") this.#settle(sent, status);
  }

  /** Redelivers every delivery not answered 200 yet (LINE retries them). */
  async redeliverUnanswered(pick: (i: number) => ServeInstance | undefined): Promise<void> {
    const waiting = this.unanswered.splice(0);
    await Promise.all(waiting.map((s, i) => {
      const inst = pick(i);
      if (inst === undefined) {
        this.unanswered.push(s);
        return undefined;
      }
      return this.resend(inst, s, "redelivery");
    }));
  }

  /** Reply tokens accepted (answered 200) and neither replied to at LINE nor logged as failed by their handler. */
  unhandled(failedEvents: ReadonlySet<string>): string[] {
    const replied = new Set(this.#emu.state.messages.filter((m) => m.kind === "reply").map((m) => m.replyToken));
    return [...this.accepted].filter(([t, a]) => !replied.has(t) && !failedEvents.has(a.eventId)).map(([t]) => t);
  }
}
