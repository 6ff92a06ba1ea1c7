import { isAbsolute, resolve } from "node:path";
import type { Command } from "../io.ts";
import { parseArgs, parsePort } from "../args.ts";
import { SEALED_STORE_ENV, STORE_FLAG, type CommandHelp } from "../help.ts";
import { InvalidInputError } from "../../core/errors.ts";
import { resolveLineConfig } from "../../clients/line/options.ts";
import { resolveWorksConfig } from "../../clients/works/options.ts";
import { redactSpec } from "../../store/common.ts";
import { openStore, parseStoreSpec } from "../../store/open.ts";
import { ChannelRegistry } from "../../store/registry.ts";
import { loadSealer } from "../../store/rotate.ts";
import { startBroker } from "../../server/broker.ts";
import { presetOriginsFromEnv } from "../../kinds/oauth2/registration.ts";
import { DEFAULT_MAX_ISSUE_RATE } from "../../server/issue-rate.ts";
import { PER_CHANNEL_METRICS_LIMIT } from "../../server/metrics.ts";
import { MIN_ADMIN_TOKEN_LENGTH } from "../../server/admin.ts";
import { TEST_CLOCK_ENV, testClockFromEnv } from "../test-clock.ts";

/**
 * Which store a start-up line names: the spec openStore chooses from the flag and the environment
 * (same order), a SQLite path made absolute, a password never shown.
 */
function storeLabel(spec: string | undefined, env: Record<string, string | undefined>, cwd: string): string {
  const chosen = spec || env["DATABASE_URL"] || env["REDIS_URL"] || `sqlite:${env["KAGIYA_DB"] || "./kagiya.db"}`;
  const parsed = parseStoreSpec(chosen);
  if (parsed.kind === "sqlite") return `sqlite:${isAbsolute(parsed.path) || parsed.path === ":memory:" ? parsed.path : resolve(cwd, parsed.path)}`;
  return redactSpec(chosen);
}

/**
 * `kagiya serve [--port 8080] [--host 127.0.0.1] [--store SPEC] [--inbox store|memory] [--max-issue-rate 5] [--per-channel-metrics auto] [--oauth-rate-limit 60]`:
 * the token broker, webhook intake (events written to the store's inbox before the 200 unless
 * `--inbox memory`) and dashboard. Store: --store, else DATABASE_URL, REDIS_URL, KAGIYA_DB / ./kagiya.db.
 * LINE: KAGIYA_LINE_API_BASE (e.g. the emulator). Dashboard login: KAGIYA_ADMIN_TOKEN or
 * `kagiya admin token`. Per-key rate limit: KAGIYA_RATE_LIMIT requests/s (default 50).
 * Logs: JSON lines on stdout (KAGIYA_LOG_LEVEL, default info). SIGTERM/SIGINT drain and exit 0.
 */
const serve: Command = async (argv, io) => {
  const { flags, positionals } = parseArgs(argv, {
    port: { kind: "string", value: "PORT", help: "TCP port (0 picks a free one)", default: "8080", env: "PORT" },
    host: { kind: "string", value: "HOST", help: "interface to listen on", default: "127.0.0.1" },
    store: STORE_FLAG,
    "max-issue-rate": { kind: "string", value: "N", help: "token issuances per second per upstream (LINE, LINE WORKS, each OAuth provider: first tokens, refreshes, issuances a read starts), across every instance on the store", default: String(DEFAULT_MAX_ISSUE_RATE) },
    "per-channel-metrics": { kind: "string", value: "on|off|auto", help: `/metrics series per channel (auto: while there are at most ${PER_CHANNEL_METRICS_LIMIT} channels)`, default: "auto" },
    inbox: {
      kind: "string",
      value: "WHERE",
      help: "where accepted webhook events wait for their handlers: store (written before the 200; none lost if the process dies) or memory (faster; unhandled events die with the process)",
      default: "store",
    },
    "oauth-rate-limit": { kind: "string", value: "N", help: "requests to /oauth/NAME/start and /oauth/NAME/callback per minute per client address (bursts of N); past it 429", default: "60" },
    "inbox-lease": { kind: "string", value: "MS", help: "how long a claimed inbox event is reserved for one instance before another (or this one restarted) takes it", default: "30000 ms" },
  });
  if (positionals.length > 0) throw new InvalidInputError(`unexpected argument "${positionals[0]!.slice(0, 40)}" (options: --port, --host, --store, --inbox, --inbox-lease, --max-issue-rate, --per-channel-metrics, --oauth-rate-limit)`);
  const inbox = flags.inbox ?? "store";
  if (inbox !== "store" && inbox !== "memory") throw new InvalidInputError(`--inbox must be store or memory, not "${inbox.slice(0, 40)}"`);
  const leaseText = flags["inbox-lease"];
  const inboxLeaseMs = leaseText === undefined ? undefined : Number(leaseText);
  if (inboxLeaseMs !== undefined && (!/^\d+$/.test(leaseText!) || inboxLeaseMs < 100 || inboxLeaseMs > 3_600_000)) {
    throw new InvalidInputError("--inbox-lease must be a whole number of milliseconds from 100 to 3600000");
  }
  if (inboxLeaseMs !== undefined && inbox === "memory") throw new InvalidInputError("--inbox-lease applies to --inbox store only");
  const port = flags.port !== undefined ? parsePort(flags.port) : io.env["PORT"] !== undefined ? parsePort(io.env["PORT"], "PORT") : 8080;
  const host = flags.host ?? "127.0.0.1";
  const perChannel = flags["per-channel-metrics"] ?? "auto";
  if (!["on", "off", "auto"].includes(perChannel)) throw new InvalidInputError("--per-channel-metrics must be on, off or auto");
  const maxIssueRate = flags["max-issue-rate"] === undefined ? DEFAULT_MAX_ISSUE_RATE : Number(flags["max-issue-rate"]);
  if (!Number.isInteger(maxIssueRate) || maxIssueRate < 1 || maxIssueRate > 1000) throw new InvalidInputError("--max-issue-rate must be a whole number of issuances per second from 1 to 1000");
  const oauthText = flags["oauth-rate-limit"] ?? "60";
  const oauthPerMinute = Number(oauthText);
  if (!/^\d+$/.test(oauthText) || oauthPerMinute < 1 || oauthPerMinute > 100_000) throw new InvalidInputError("--oauth-rate-limit must be a whole number of requests per minute from 1 to 100000");
  const rate = io.env["KAGIYA_RATE_LIMIT"] === undefined ? 50 : Number(io.env["KAGIYA_RATE_LIMIT"]);
  if (!(rate > 0) || !Number.isFinite(rate)) throw new InvalidInputError("KAGIYA_RATE_LIMIT must be a positive number of requests per second");
  const level = io.env["KAGIYA_LOG_LEVEL"] ?? "info";
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(level)) {
    throw new InvalidInputError("KAGIYA_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent");
  }
  const adminToken = io.env["KAGIYA_ADMIN_TOKEN"] || undefined;
  if (adminToken !== undefined && adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new InvalidInputError(`KAGIYA_ADMIN_TOKEN is too short (${adminToken.length} characters): use at least ${MIN_ADMIN_TOKEN_LENGTH} random characters, or unset it and run kagiya admin token`);
  }
  // Resolved (and a malformed value refused) the way the token client does, to say it at start.
  const lineApiBase = resolveLineConfig({ env: { KAGIYA_LINE_API_BASE: io.env["KAGIYA_LINE_API_BASE"] || undefined } }).baseUrl;
  const works = resolveWorksConfig({ env: { KAGIYA_WORKS_AUTH_BASE: io.env["KAGIYA_WORKS_AUTH_BASE"] || undefined, KAGIYA_WORKS_API_BASE: io.env["KAGIYA_WORKS_API_BASE"] || undefined } });
  const worksAuthBase = works.authBaseUrl;
  const worksApiBase = works.apiBaseUrl;
  const sealer = loadSealer(io.env, io.cwd);
  // TEST ONLY (the soak harness): follow the emulator's clock; refused without KAGIYA_TEST_MODE=1.
  const testClock = await testClockFromEnv(io.env);
  const store = await openStore(flags.store, io.env, { cwd: io.cwd });
  let broker;
  try {
    const registry = await ChannelRegistry.open(store, sealer);
    broker = await startBroker({
      registry,
      port,
      host,
      lineApiBase,
      worksAuthBase,
      worksApiBase,
      oauthOrigins: presetOriginsFromEnv(io.env),
      adminToken,
      maxIssueRate,
      perChannelMetrics: perChannel === "auto" ? undefined : perChannel === "on",
      rateLimit: { perSecond: rate, burst: Math.max(1, Math.ceil(rate * 2)) },
      oauthRateLimit: { perSecond: oauthPerMinute / 60, burst: oauthPerMinute },
      log: { level },
      secureCookies: io.env["KAGIYA_SECURE_COOKIES"] === "1",
      inbox,
      ...(inboxLeaseMs !== undefined ? { inboxLeaseMs } : {}),
      ...(testClock ? { now: testClock.now } : {}),
      onClose: () => {
        testClock?.close();
        return store.close();
      },
    });
  } catch (error) {
    testClock?.close();
    await store.close().catch(() => {});
    throw error;
  }
  if (testClock) io.stderr(`kagiya serve: TEST CLOCK from ${testClock.url}, skew ${testClock.skewMs} ms (KAGIYA_TEST_MODE=1; never in production)\n`);
  io.stderr(
    `kagiya serve: LINE API ${lineApiBase}${io.env["KAGIYA_LINE_API_BASE"] ? " (KAGIYA_LINE_API_BASE)" : " (set KAGIYA_LINE_API_BASE for the emulator)"}; ` +
      `${store.kind} store ${storeLabel(flags.store, io.env, io.cwd)}\n` +
      `kagiya serve: listening on ${broker.url} (dashboard ${broker.url}/ui/)\n`,
  );
  const running = broker;
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      running.log.info({ signal }, "signal received");
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      void running.close().finally(resolve);
    };
    const onTerm = (): void => stop("SIGTERM");
    const onInt = (): void => stop("SIGINT");
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
  });
  // Whatever a driver may leave open, the process ends soon after a clean shutdown.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  return 0;
};

/** `kagiya serve` (a single default command). */
export const commands: Record<string, Command> = { "": serve };

/** Help for `kagiya serve`. */
export const help: Record<string, CommandHelp> = {
  "": {
    summary: "run the token broker (GET /v1/channels/ID/token), the webhook intake (POST /webhook/ID; LINE WORKS bots POST /webhook/works/BOT) and the dashboard (/ui/)",
    description: "Logs JSON lines on stdout; says where it listens, which LINE API and which store it uses on stderr.\nSIGTERM or SIGINT drains requests and exits 0.",
    env: [...SEALED_STORE_ENV, "KAGIYA_LINE_API_BASE", "KAGIYA_WORKS_AUTH_BASE", "KAGIYA_WORKS_API_BASE", "KAGIYA_LINE_LOGIN_BASE", "KAGIYA_ADMIN_TOKEN", "KAGIYA_RATE_LIMIT", "KAGIYA_LOG_LEVEL", "KAGIYA_SECURE_COOKIES", ...TEST_CLOCK_ENV],
    failure: "the store is unreachable at start",
    example: "KAGIYA_LINE_API_BASE=http://127.0.0.1:8787 kagiya serve --port 8080",
  },
};
