// Child process for the multi-process SQLite test: races commitToken on a shared file.
// argv: path, tag, attempts. Prints {"wins": n} on stdout.
import { SqliteStore } from "../../src/store/sqlite/store.ts";

const [path, tag, attempts] = process.argv.slice(2) as [string, string, string];
const store = new SqliteStore({ path });
await store.migrate();
let wins = 0;
for (let i = 0; i < Number(attempts); i++) {
  const { generation } = await store.getCurrent("1234567890");
  const now = Date.now();
  const row = { channelId: "1234567890", keyId: `${tag}-${i}`, accessToken: null, generation: 0, state: "valid" as const, issuedAt: now, expiresAt: now + 1e9, refreshAt: now + 1e8, revokeAt: null, updatedAt: now };
  if (await store.commitToken("1234567890", generation, row, now)) wins++;
}
await store.close();
process.stdout.write(JSON.stringify({ wins }));
