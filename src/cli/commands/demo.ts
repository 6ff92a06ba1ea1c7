import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command, CliIO } from "../io.ts";
import { parseArgs, parsePort } from "../args.ts";
import type { CommandHelp } from "../help.ts";
import { InvalidInputError } from "../../core/errors.ts";
import { generateAssertionKeyPair } from "../../core/keys/generate.ts";
import { startEmulator } from "../../emulator/index.ts";
import { openStore } from "../../store/open.ts";
import { ChannelRegistry } from "../../store/registry.ts";
import { loadSealer } from "../../store/rotate.ts";
import { generateMasterKeyText } from "../../store/sealed.ts";
import { startBroker } from "../../server/broker.ts";
import { createApiKey } from "../../server/apikeys.ts";
import { createAdminToken } from "../../server/admin.ts";

/** Where the demo keeps its SQLite file and master key, apart from a real ./kagiya.db. */
const DEMO_DB = "kagiya-demo.db";
const DEMO_KEY = "kagiya-demo.key";

async function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

/** The demo's master key: KAGIYA_MASTER_KEY(_FILE) when set, else ./kagiya-demo.key (0600, made once). */
function demoEnv(io: CliIO): Record<string, string | undefined> {
  if (io.env["KAGIYA_MASTER_KEY"] || io.env["KAGIYA_MASTER_KEY_FILE"]) return io.env;
  const file = join(io.cwd, DEMO_KEY);
  if (!existsSync(file)) writeFileSync(file, generateMasterKeyText() + "\n", { mode: 0o600, flag: "wx" });
  return { ...io.env, KAGIYA_MASTER_KEY: readFileSync(file, "utf8").trim() };
}

/**
 * `kagiya demo [--port 8080] [--once]`: the whole main job offline, on the embedded SQLite store.
 * Starts the emulator in-process, registers a channel and its generated assertion key with it,
 * adds the channel to ./kagiya-demo.db, starts `kagiya serve` against the emulator, fetches a
 * managed token through the token API, and delivers a webhook whose reply ("こんにちは!") shows in
 * the emulator's message log. Then serves until Ctrl-C (`--once`: stops after the walkthrough).
 */
const demo: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    port: { kind: "string", value: "PORT", help: "port for kagiya serve (0 picks a free one)", default: "8080" },
    once: { kind: "boolean", help: "stop after the walkthrough instead of serving until Ctrl-C" },
    "show-credentials": { kind: "boolean", help: "print an API key and a dashboard admin token to try by hand" },
  });
  if (positionals.length > 0) throw new InvalidInputError(`unexpected argument "${positionals[0]!.slice(0, 40)}" (options: --port, --once, --show-credentials)`);
  const port = flags.port === undefined ? 8080 : parsePort(flags.port);

  const env = demoEnv(io);
  // Each run starts a fresh emulator, so channels a previous run registered cannot be served again.
  for (const suffix of ["", "-wal", "-shm"]) rmSync(join(io.cwd, DEMO_DB + suffix), { force: true });
  const sealer = loadSealer(env, io.cwd);
  const emulator = await startEmulator();
  const store = await openStore(`sqlite:${join(io.cwd, DEMO_DB)}`, env, { cwd: io.cwd });
  let broker: Awaited<ReturnType<typeof startBroker>> | undefined;
  try {
    const registry = await ChannelRegistry.open(store, sealer);
    // What the LINE Developers Console does by hand: a channel, and the public key registered under a kid.
    const { channelId, channelSecret } = (await postJson(`${emulator.url}/__emulator/channels`, {})) as { channelId: string; channelSecret: string };
    const pair = await generateAssertionKeyPair();
    const { kid } = (await postJson(`${emulator.url}/__emulator/channels/${channelId}/keys`, pair.publicJwk)) as { kid: string };
    await registry.add({ channelId, kid, privateKey: pair.privateJwk, channelSecret });
    const apiKey = await createApiKey(store, { channels: [channelId], name: "demo", actor: "cli" });
    const adminToken = await createAdminToken(store);
    broker = await startBroker({ registry, port, lineApiBase: emulator.url, log: { level: "warn" } });

    const tokenRes = await fetch(`${broker.url}/v1/channels/${channelId}/token`, { headers: { authorization: `Bearer ${apiKey.key}` } });
    const token = (await tokenRes.json()) as { key_id?: string; expires_at?: number };
    const delivery = await postJson(`${emulator.url}/__emulator/webhooks`, {
      channelId,
      url: `${broker.url}/webhook/${channelId}`,
      events: [{ type: "message", message: { type: "text", id: "1", text: "hello" } }],
    });
    let replies: Array<{ body?: { messages?: Array<{ text?: string }> } }> = [];
    for (let i = 0; i < 50 && replies.length === 0; i++) {
      const res = await fetch(`${emulator.url}/__emulator/messages?channelId=${channelId}`);
      replies = ((await res.json()) as { messages: typeof replies }).messages;
      if (replies.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    io.stdout([
      `LINE emulator      ${emulator.url}`,
      `kagiya serve       ${broker.url}   (SQLite store ./${DEMO_DB}, master key ${env === io.env ? "from the environment" : `./${DEMO_KEY}`})`,
      `channel            ${channelId} (kid ${kid})`,
      `token API          GET /v1/channels/${channelId}/token -> ${tokenRes.status}, key_id ${token.key_id}, expires_at ${token.expires_at}`,
      `webhook            POST /webhook/${channelId} -> ${String(delivery["status"])}`,
      `bot's reply        ${replies.map((m) => m.body?.messages?.[0]?.text).join(", ") || "(none yet)"}`,
      "",
      // Secrets are printed only when asked for by name.
      ...(flags["show-credentials"]
        ? [
            `try:  curl -H 'Authorization: Bearer ${apiKey.key}' ${broker.url}/v1/channels/${channelId}/token`,
            `      dashboard ${broker.url}/ui/  (admin token ${adminToken})`,
          ]
        : [`dashboard          ${broker.url}/ui/  (run with --show-credentials for an API key and an admin token to try by hand)`]),
      "",
    ].join("\n"));
    if (flags.once) return tokenRes.status === 200 && delivery["status"] === 200 && replies.length > 0 ? 0 : 1;
    io.stderr("serving until Ctrl-C\n");
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    return 0;
  } finally {
    if (broker) await broker.close();
    await store.close().catch(() => {});
    await emulator.close();
  }
};

/** `kagiya demo` (a single default command). */
export const commands: Record<string, Command> = { "": demo };

/** Help for `kagiya demo`. */
export const help: Record<string, CommandHelp> = {
  "": {
    summary: "run the whole main job offline: emulator, channel, serve, token API, webhook reply",
    description: `Uses ./${DEMO_DB} (recreated each run) and the master key in ./${DEMO_KEY} (made once, mode 0600)\nunless KAGIYA_MASTER_KEY or KAGIYA_MASTER_KEY_FILE is set.`,
    env: ["KAGIYA_MASTER_KEY", "KAGIYA_MASTER_KEY_FILE"],
    failure: "the walkthrough did not complete (with --once): no token, or no reply",
    example: "kagiya demo --once",
  },
};
