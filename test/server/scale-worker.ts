// One broker in a child process for the scale kill test: `kagiya serve`'s stack (startBroker) on a
// shared store, on a clock the parent moves over IPC (real time plus an offset, like TestClock),
// with short issue locks (lockTtlMs) so that a SIGKILLed instance's locks lapse within seconds of
// real time.
//   argv[2]: JSON {spec, masterKey, lineApiBase, rate, lockTtlMs}
// Messages in: {offsetMs} (answered {ack}), {report} (answered {issued: {reason: count}}).
// Messages out: {ready, url} once every channel is planned.
import { Writable } from "node:stream";
import { openStore } from "../../src/store/open.ts";
import { ChannelRegistry } from "../../src/store/registry.ts";
import { MasterKey, Sealer } from "../../src/store/sealed.ts";
import { startBroker } from "../../src/server/broker.ts";

const DAY_MS = 86_400_000;
const config = JSON.parse(process.argv[2]!) as { spec: string; masterKey: string; lineApiBase: string; rate: number; lockTtlMs: number };
let offsetMs = 0;
const now = (): number => Date.now() + offsetMs;

const store = await openStore(config.spec);
const registry = await ChannelRegistry.open(store, new Sealer(MasterKey.parse(config.masterKey)));
const broker = await startBroker({
  registry, lineApiBase: config.lineApiBase, now, bot: false, maxIssueRate: config.rate, lockTtlMs: config.lockTtlMs,
  log: { level: "warn", destination: new Writable({ write: (_c, _e, cb) => cb() }) },
  scheduler: { tickMs: 20, gapMs: 0, concurrency: 8, channelListMs: 3600_000, reconcileMs: 10_000 * DAY_MS, maxIdleMs: 100 * DAY_MS },
});
/** Issuances this instance made, by reason. */
const issued = async (): Promise<Record<string, number>> => {
  const out: Record<string, number> = {};
  for (const v of (await broker.metrics.issuances.get()).values) out[String(v.labels.reason)] = (out[String(v.labels.reason)] ?? 0) + v.value;
  return out;
};
process.on("message", (m: { offsetMs?: number; report?: boolean; stop?: boolean }) => {
  if (m.offsetMs !== undefined) {
    offsetMs = m.offsetMs;
    process.send!({ ack: true });
  } else if (m.report) void issued().then((counts) => process.send!({ issued: counts }));
  else if (m.stop) void broker.close().then(() => store.close()).then(() => process.exit(0));
});
await broker.scheduler!.whenReady();
process.send!({ ready: true, url: broker.url });
