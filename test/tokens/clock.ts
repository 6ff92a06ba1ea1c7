// The test clock (real time plus an offset, moved together with the emulator's) and a fetch that
// states the emulator's Date header on that clock. No node:test import: child processes use it.
import { advanceClock } from "../helpers/emulator.ts";

/** A clock that is real time plus an offset, moved together with the emulator's. */
export class TestClock {
  offsetMs = 0;
  readonly url: string;
  constructor(url: string) {
    this.url = url;
  }
  readonly now = (): number => Date.now() + this.offsetMs;
  /** Moves both this clock and the emulator's forward. */
  async advance(seconds: number): Promise<void> {
    await advanceClock(this.url, seconds);
    this.offsetMs += seconds * 1000;
  }
}

/**
 * Real fetch, with the response's Date header restated on the emulated clock. The emulator's
 * Date header is real time, so the LINE client's skew correction would otherwise pull
 * assertions back to real time after the test clock moved (change requested from the emulator).
 */
export function emulatedDateFetch(clock: { now(): number }): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    const headers = new Headers(res.headers);
    headers.set("date", new Date(clock.now()).toUTCString());
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  };
}

