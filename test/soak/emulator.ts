// The emulator as LINE for the soak, in this process so the harness can read its ledger and
// message log directly (the witness of every invariant) and see every answer it gives: a thin
// listener around the emulator's own counts each token issuance refused at the cap of 30 and each
// reply refused because its reply token was used (an event handled twice).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Faults } from "../../src/emulator/faults.ts";
import { createListener } from "../../src/emulator/server.ts";
import { EmulatorState } from "../../src/emulator/state.ts";
import { worksOf, worksTokenState, type WorksTokenRecord } from "../../src/emulator/works-state.ts";

/** One use of a LINE WORKS refresh token at the token endpoint, as the emulator judged it. */
export interface RefreshUse {
  token: string;
  clientId: string;
  /** LINE WORKS took it (a new access token came of it); false: refused as invalid_grant. */
  accepted: boolean;
  /** Real time (Date.now) of the use. */
  realAt: number;
}

/** A LINE WORKS refresh token as issued, with the real time it was issued at. */
export interface IssuedRefresh {
  record: WorksTokenRecord;
  realAt: number;
}

/** What the harness counted of the emulator's answers. */
export interface EmulatorCounts {
  /** v2.1 issuances refused because the channel had 30 valid tokens. */
  capRefusals: number;
  /** Replies refused: reply token already used (or unknown). */
  replyRefusals: number;
  /** Requests to the token endpoints (any answer). */
  tokenRequests: number;
}

export interface SoakEmulator {
  url: string;
  state: EmulatorState;
  faults: Faults;
  counts: EmulatorCounts;
  /** Emulator times at which LINE answered a channel's list of valid key IDs (a reconcile's view), by channel. */
  listings: Map<string, number[]>;
  /** Every use of a LINE WORKS refresh token, in order. */
  refreshUses: RefreshUse[];
  /** LINE WORKS refresh tokens by app (client ID), oldest first. */
  refreshIssued: Map<string, IssuedRefresh[]>;
  close(): Promise<void>;
}

export async function startSoakEmulator(): Promise<SoakEmulator> {
  const state = new EmulatorState();
  const faults = new Faults();
  const inner = createListener({ state, faults });
  const counts: EmulatorCounts = { capRefusals: 0, replyRefusals: 0, tokenRequests: 0 };
  const listings = new Map<string, number[]>();
  const { refreshUses, refreshIssued } = watchRefreshTokens(state, faults);
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const [path, query] = (req.url ?? "").split("?") as [string, string | undefined];
    if (path.startsWith("/oauth2/")) counts.tokenRequests++;
    if (req.method === "GET" && path === "/oauth2/v2.1/tokens/kid") {
      // The list as LINE had it when the request arrived (the answer may be delayed by a fault).
      const at = state.now();
      res.once("finish", () => {
        const channelId = res.statusCode === 200 ? assertionIssuer(query) : undefined;
        if (channelId === undefined) return;
        let list = listings.get(channelId);
        if (!list) listings.set(channelId, (list = []));
        list.push(at);
      });
    }
    if (req.method === "POST" && (path === "/oauth2/v2.1/token" || path === "/v2/bot/message/reply")) {
      // Look at the body of refusals only: the cap's message, and refused replies.
      const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
      (res as { end: (...a: unknown[]) => ServerResponse }).end = (...args: unknown[]) => {
        if (res.statusCode === 400) {
          const text = typeof args[0] === "string" ? args[0] : Buffer.isBuffer(args[0]) ? args[0].toString("utf8") : "";
          if (path === "/oauth2/v2.1/token" && text.includes("maximum number of access tokens")) counts.capRefusals++;
          if (path === "/v2/bot/message/reply" && text.includes("Invalid reply token")) counts.replyRefusals++;
        }
        return end(...args);
      };
    }
    inner(req, res);
  };
  const server: Server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 60_000 }, listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    faults,
    counts,
    listings,
    refreshUses,
    refreshIssued,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** The `iss` of the client assertion in a query string (the channel the listing is for). */
function assertionIssuer(query: string | undefined): string | undefined {
  const jwt = new URLSearchParams(query ?? "").get("client_assertion");
  const payload = jwt?.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const iss = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { iss?: unknown }).iss;
    return typeof iss === "string" ? iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Watches the LINE WORKS ledger: every refresh token stored in it is recorded with its real issue
 * time, and its `uses` counter (moved by the token endpoint for each use, accepted or refused)
 * becomes an accessor that logs each use with its outcome. The endpoint counts the use and then
 * takes the token only if it is valid, in one synchronous run, so "valid when counted" is exactly
 * "accepted" (client authentication came before).
 */
function watchRefreshTokens(state: EmulatorState, faults: Faults): { refreshUses: RefreshUse[]; refreshIssued: Map<string, IssuedRefresh[]> } {
  const refreshUses: RefreshUse[] = [];
  const refreshIssued = new Map<string, IssuedRefresh[]>();
  const tokens = worksOf({ state, faults }).tokens;
  const set = tokens.set.bind(tokens);
  tokens.set = (key: string, record: WorksTokenRecord) => {
    if (record.type === "refresh" && !tokens.has(key)) {
      let uses = record.uses;
      Object.defineProperty(record, "uses", {
        enumerable: true,
        get: () => uses,
        set: (n: number) => {
          if (n > uses) refreshUses.push({ token: record.token, clientId: record.clientId, accepted: worksTokenState(record, state.now()) === "valid", realAt: Date.now() });
          uses = n;
        },
      });
      let list = refreshIssued.get(record.clientId);
      if (!list) refreshIssued.set(record.clientId, (list = []));
      list.push({ record, realAt: Date.now() });
    }
    return set(key, record);
  };
  return { refreshUses, refreshIssued };
}
