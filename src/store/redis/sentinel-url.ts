// Parsing a `redis+sentinel://` store URL. No ioredis import: open.ts validates specs with it
// before any driver loads.
import { InvalidInputError } from "../../core/errors.ts";
import { redactSpec } from "../common.ts";

/** The Redis Sentinel setup a `redis+sentinel://` URL names. `password` is a secret. */
export interface SentinelUrl {
  /** The sentinels to ask for the master's address, in order. */
  sentinels: Array<{ host: string; port: number }>;
  /** The name the sentinels monitor the master under (`sentinel monitor NAME …`). */
  masterName: string;
  /** Database number on the master (default 0). */
  db: number;
  /** ACL user and password of the master and replicas (not of the sentinels). */
  username?: string;
  password?: string;
}

/** The scheme of a Redis store behind Sentinel. */
export const SENTINEL_SCHEME = "redis+sentinel://";
const DEFAULT_SENTINEL_PORT = 26379;
const FORM = "redis+sentinel://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]…]/MASTER[/DB][?prefix=P]";

/**
 * Reads `redis+sentinel://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]…]/MASTER[/DB]` (sentinel
 * port default 26379; IPv6 hosts in brackets). The query string is left to the caller (`prefix`).
 * Throws InvalidInputError naming what is wrong, never showing the password.
 *
 * @example
 * ```ts
 * parseSentinelUrl("redis+sentinel://10.0.0.1,10.0.0.2:26380/kagiya/2");
 * // { sentinels: [{ host: "10.0.0.1", port: 26379 }, { host: "10.0.0.2", port: 26380 }], masterName: "kagiya", db: 2 }
 * ```
 */
export function parseSentinelUrl(url: string): SentinelUrl {
  const bad = (what: string): InvalidInputError => new InvalidInputError(`store URL ${redactSpec(url)}: ${what} (use ${FORM})`, { field: "--store" });
  if (!url.toLowerCase().startsWith(SENTINEL_SCHEME)) throw bad("not a redis+sentinel:// URL");
  const rest = url.slice(SENTINEL_SCHEME.length).replace(/[?#].*$/s, "");
  const at = rest.lastIndexOf("@", rest.indexOf("/") === -1 ? rest.length : rest.indexOf("/"));
  const auth = at === -1 ? "" : rest.slice(0, at);
  const afterAuth = at === -1 ? rest : rest.slice(at + 1);
  const slash = afterAuth.indexOf("/");
  const hostList = slash === -1 ? afterAuth : afterAuth.slice(0, slash);
  const path = slash === -1 ? [] : afterAuth.slice(slash + 1).split("/");
  if (path.length > 0 && path[path.length - 1] === "") path.pop();
  if (hostList === "") throw bad("no sentinel host");
  const sentinels = hostList.split(",").map((h) => {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(h);
    if (m === null) throw bad(`"${h.slice(0, 80)}" is not a sentinel HOST[:PORT]`);
    const port = m[3] === undefined ? DEFAULT_SENTINEL_PORT : Number(m[3]);
    if (port < 1 || port > 65535) throw bad(`sentinel port ${m[3]} is out of range`);
    return { host: (m[1] ?? m[2])!, port };
  });
  if (path.length === 0 || path[0] === "") throw bad("no master name after the sentinel hosts");
  if (path.length > 2) throw bad("too many path segments");
  const masterName = decode(path[0]!, bad);
  const dbText = path[1];
  if (dbText !== undefined && !/^\d{1,5}$/.test(dbText)) throw bad("the Redis database must be a number, e.g. …/mymaster/0");
  const out: SentinelUrl = { sentinels, masterName, db: dbText === undefined ? 0 : Number(dbText) };
  if (auth !== "") {
    const colon = auth.indexOf(":");
    // As in redis:// URLs: `USER@`, `:PASSWORD@` or `USER:PASSWORD@`.
    const user = decode(colon === -1 ? auth : auth.slice(0, colon), bad);
    if (user !== "") out.username = user;
    if (colon !== -1) out.password = decode(auth.slice(colon + 1), bad);
  }
  return out;
}

function decode(s: string, bad: (what: string) => InvalidInputError): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw bad("bad percent-encoding");
  }
}
