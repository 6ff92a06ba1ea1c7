/**
 * TEST ONLY: a clock that follows the emulator's, for the soak harness (test/soak/). With
 * `KAGIYA_TEST_MODE=1` and `KAGIYA_TEST_CLOCK_URL=http://EMULATOR/__emulator/clock`, a process's
 * clock is real time plus the offset that URL answers (`{"offsetSeconds": …}`, polled every
 * 100 ms), plus `KAGIYA_TEST_CLOCK_SKEW_MS` (a per-process skew, default 0). Without
 * KAGIYA_TEST_MODE=1 the URL is refused, so a stray variable cannot move a production clock.
 */
import { InvalidInputError } from "../core/errors.ts";

/** The variables {@link testClockFromEnv} reads (listed in the help of the commands that use it). */
export const TEST_CLOCK_ENV = ["KAGIYA_TEST_MODE", "KAGIYA_TEST_CLOCK_URL", "KAGIYA_TEST_CLOCK_SKEW_MS"] as const;

/** How often the offset is read again, ms. */
const POLL_MS = 100;
const MAX_SKEW_MS = 24 * 3600_000;

/** A clock following a test clock URL; `close()` stops polling. */
export interface TestClock {
  now: () => number;
  /** Where the offset comes from, for the start-up line. */
  url: string;
  skewMs: number;
  close(): void;
}

async function readOffsetMs(url: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  const body = (await res.json()) as { offsetSeconds?: unknown };
  if (!res.ok || typeof body.offsetSeconds !== "number" || !Number.isFinite(body.offsetSeconds)) {
    throw new Error(`${url} answered ${res.status} without a numeric offsetSeconds`);
  }
  return Math.round(body.offsetSeconds * 1000);
}

/**
 * The test clock the environment asks for, or undefined when `KAGIYA_TEST_CLOCK_URL` is unset.
 * Throws InvalidInputError when it is set without `KAGIYA_TEST_MODE=1`, is not an http(s) URL,
 * the skew is malformed, or the URL does not answer at start.
 */
export async function testClockFromEnv(env: Record<string, string | undefined>): Promise<TestClock | undefined> {
  const url = env["KAGIYA_TEST_CLOCK_URL"];
  const skewText = env["KAGIYA_TEST_CLOCK_SKEW_MS"];
  if (!url) {
    if (skewText) throw new InvalidInputError("KAGIYA_TEST_CLOCK_SKEW_MS needs KAGIYA_TEST_CLOCK_URL (test only)");
    return undefined;
  }
  if (env["KAGIYA_TEST_MODE"] !== "1") {
    throw new InvalidInputError("KAGIYA_TEST_CLOCK_URL is for tests only and needs KAGIYA_TEST_MODE=1; unset it in production");
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidInputError("KAGIYA_TEST_CLOCK_URL must be an http(s) URL");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new InvalidInputError("KAGIYA_TEST_CLOCK_URL must be an http(s) URL");
  const skewMs = skewText === undefined || skewText === "" ? 0 : Number(skewText);
  if (!/^-?\d+$/.test(skewText ?? "0") || Math.abs(skewMs) > MAX_SKEW_MS) {
    throw new InvalidInputError("KAGIYA_TEST_CLOCK_SKEW_MS must be a whole number of milliseconds within ±86400000");
  }
  let offsetMs: number;
  try {
    offsetMs = await readOffsetMs(url);
  } catch (error) {
    throw new InvalidInputError(`KAGIYA_TEST_CLOCK_URL could not be read: ${(error as Error).message}`);
  }
  let polling = false;
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    // A failed poll keeps the last offset: the clock goes on at real speed.
    readOffsetMs(url).then((o) => void (offsetMs = o), () => {}).finally(() => void (polling = false));
  }, POLL_MS);
  timer.unref();
  return { now: () => Date.now() + offsetMs + skewMs, url, skewMs, close: () => clearInterval(timer) };
}
