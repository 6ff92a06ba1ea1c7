// oidc-provider for the soak, in a worker thread whose clock is the emulator's: every time
// oidc-provider reads goes through Date.now (its epochTime helper, its in-memory adapter's expiry),
// and this thread's Date.now is the real time plus the emulator's offset, which the harness
// mirrors into shared memory whenever it moves the clock. So the provider's tokens age on the same
// simulated days as kagiya's, without touching the harness thread's own (real) Date.now.
import { parentPort, workerData } from "node:worker_threads";

const { clock, publicUrl, clientId, clientSecret, ttl } = workerData as { clock: SharedArrayBuffer; publicUrl: string; clientId: string; clientSecret: string; ttl: Record<string, number> };
const offset = new BigInt64Array(clock);
const realNow = Date.now.bind(Date);
Date.now = () => realNow() + Number(Atomics.load(offset, 0));

// Imported after the clock is in place.
const { nativeClient, startOidcProvider } = await import("../helpers/oidc.ts");
const oidc = await startOidcProvider({ publicUrl, accessTokenTtlS: ttl["AccessToken"]!, ttl, clients: [nativeClient(clientId, clientSecret)] });
oidc.provider.on("grant.revoked", () => parentPort!.postMessage({ event: "grant.revoked" }));
parentPort!.postMessage({ ready: true, url: oidc.url });
