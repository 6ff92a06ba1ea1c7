// The test clock: real time plus an offset, moved together with the emulator's (whose Date
// headers follow its clock, so the LINE client's skew correction agrees with it).
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
