import { startSentinelCluster } from "./test/faults/services.ts";
import { openStore } from "./src/store/open.ts";
const c = await startSentinelCluster();
const s: any = await openStore(c.spec + "?prefix=x:");
s.client.on("error", (e: Error) => console.log("client error", e.message));
s.client.on("reconnecting", (ms: number) => console.log("reconnecting", ms));
await s.setMeta("a", "1");
await c.waitInSync();
await c.setDownAfter(60000);
const victim = await c.masterPort();
c.kill(victim);
await new Promise(r => setTimeout(r, 3000));
console.log("status", s.client.status);
await c.setDownAfter(500);
const t = Date.now();
for (let i = 0; i < 60; i++) {
  let m = -1; try { m = await c.masterPort(); } catch {}
  let ok = "no"; try { await s.ping(); ok = "yes"; } catch (e) { ok = e.message.slice(0, 80); }
  console.log(Date.now() - t, "master", m, "victim", victim, "status", s.client.status, s.client.stream?.remotePort, ok);
  if (ok === "yes" && m !== victim) break;
  await new Promise(r => setTimeout(r, 1000));
}
await s.close(); await c.close();
