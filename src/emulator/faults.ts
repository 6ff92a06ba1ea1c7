// Fault injection: latency, HTTP statuses, connection resets and truncated bodies on matching requests.
import { mulberry32 } from "../core/prng.ts";

/** A fault as the control API takes it. */
export interface FaultSpec {
  method: string;
  path: string;
  status?: number;
  /** Seconds, or an HTTP-date string sent verbatim. */
  retryAfter?: number | string;
  delayMs?: number;
  reset?: boolean;
  truncate?: boolean;
  count?: number;
  probability?: number;
  seed?: number;
}

/** A registered fault. */
export interface Fault extends FaultSpec {
  id: number;
  /** Applications left (count), null when unlimited. */
  remaining: number | null;
  hits: number;
  rng: (() => number) | null;
}

/** What a matched fault does to one request. */
export interface FaultEffect {
  status?: number;
  retryAfter?: number | string;
  delayMs?: number;
  reset?: boolean;
  truncate?: boolean;
}

const KEYS = new Set(["method", "path", "status", "retryAfter", "delayMs", "reset", "truncate", "count", "probability", "seed"]);

/** Validates a fault spec; returns the problem, or the spec. */
export function parseFault(body: unknown): FaultSpec | string {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return "the body must be a JSON object";
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!KEYS.has(k)) return `unknown field ${k}`;
  const isInt = (v: unknown, min: number, max: number) => typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
  if (typeof b["method"] !== "string" || !/^([A-Za-z]+|\*)$/.test(b["method"])) return 'method must be an HTTP method or "*"';
  if (typeof b["path"] !== "string" || !(b["path"].startsWith("/") || b["path"] === "*")) return 'path must start with "/" (a trailing * matches a prefix)';
  if (b["path"].startsWith("/__emulator")) return "the control API cannot be faulted";
  if (b["status"] !== undefined && !isInt(b["status"], 100, 599)) return "status must be an integer from 100 to 599";
  const ra = b["retryAfter"];
  if (ra !== undefined && !isInt(ra, 0, 86_400) && !(typeof ra === "string" && /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(ra))) {
    return "retryAfter must be a number of seconds (0 to 86400) or an HTTP-date (Wed, 21 Oct 2026 07:28:00 GMT)";
  }
  if (b["delayMs"] !== undefined && !isInt(b["delayMs"], 0, 120_000)) return "delayMs must be an integer from 0 to 120000";
  for (const f of ["reset", "truncate"]) if (b[f] !== undefined && typeof b[f] !== "boolean") return `${f} must be a boolean`;
  if (b["count"] !== undefined && !isInt(b["count"], 1, 1_000_000_000)) return "count must be a positive integer";
  if (b["probability"] !== undefined && !(typeof b["probability"] === "number" && b["probability"] >= 0 && b["probability"] <= 1)) return "probability must be a number from 0 to 1";
  if (b["count"] !== undefined && b["probability"] !== undefined) return "give count or probability, not both";
  if (b["seed"] !== undefined && !isInt(b["seed"], 0, 2 ** 32 - 1)) return "seed must be an integer from 0 to 2^32-1";
  if (b["status"] === undefined && b["delayMs"] === undefined && b["reset"] !== true && b["truncate"] !== true) {
    return "a fault needs at least one of status, delayMs, reset or truncate";
  }
  if (b["retryAfter"] !== undefined && b["status"] === undefined) return "retryAfter needs a status (e.g. 429 or 503)";
  return b as unknown as FaultSpec;
}

/** The active faults, matched in the order they were added. */
export class Faults {
  private list: Fault[] = [];
  private nextId = 1;

  add(spec: FaultSpec): Fault {
    const fault: Fault = {
      ...spec,
      method: spec.method.toUpperCase(),
      id: this.nextId++,
      remaining: spec.count ?? null,
      hits: 0,
      rng: spec.probability === undefined ? null : mulberry32(spec.seed ?? 0x5eed),
    };
    this.list.push(fault);
    return fault;
  }

  clear(): void {
    this.list = [];
  }

  get size(): number {
    return this.list.length;
  }

  /** A JSON view of the active faults. */
  describe(): unknown[] {
    return this.list.map(({ rng: _rng, ...rest }) => rest);
  }

  /** The effect for this request, if a fault matches (and fires); consumes a count. */
  match(method: string, path: string): FaultEffect | undefined {
    for (const f of this.list) {
      if (f.method !== "*" && f.method !== method) continue;
      if (!pathMatches(f.path, path)) continue;
      if (f.rng && f.rng() >= f.probability!) continue;
      f.hits++;
      if (f.remaining !== null && --f.remaining <= 0) this.list = this.list.filter((x) => x !== f);
      const effect: FaultEffect = {};
      if (f.status !== undefined) effect.status = f.status;
      if (f.retryAfter !== undefined) effect.retryAfter = f.retryAfter;
      if (f.delayMs !== undefined) effect.delayMs = f.delayMs;
      if (f.reset) effect.reset = true;
      if (f.truncate) effect.truncate = true;
      return effect;
    }
    return undefined;
  }
}

function pathMatches(pattern: string, path: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) return path.startsWith(pattern.slice(0, -1));
  return pattern === path;
}
