// LINE's real token API (the emulator over HTTP) whose next issue() answer a test can hold: LINE
// has issued the token, kagiya has not heard back yet. The fault tests break the store then.
import type { Channel } from "../../src/store/registry.ts";
import { lineTokenApi } from "../../src/tokens/line.ts";
import type { IssuedToken, LineStatelessApi, LineTokenApi } from "../../src/tokens/upstream.ts";
import type { TokenWorld } from "../tokens/setup.ts";

/** LINE's real token API (the emulator), whose issue() answer is held until the test releases it. */
export function gatedLine(w: TokenWorld): { api: LineTokenApi & LineStatelessApi; hold(): { answered: Promise<void>; release(): void } } {
  const real = lineTokenApi({ baseUrl: w.emu.url, now: w.clock.now });
  let held: { answered: () => void; released: Promise<void> } | null = null;
  return {
    api: {
      ...real,
      async issue(channel: Channel, lifetimeSeconds: number): Promise<IssuedToken> {
        const t = await real.issue(channel, lifetimeSeconds);
        const h = held;
        held = null;
        if (h !== null) {
          h.answered();
          await h.released;
        }
        return t;
      },
    },
    hold() {
      let answered!: () => void;
      let release!: () => void;
      const a = new Promise<void>((r) => (answered = r));
      held = { answered, released: new Promise<void>((r) => (release = r)) };
      return { answered: a, release };
    },
  };
}

