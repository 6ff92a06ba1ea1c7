// A store whose method calls and failed calls are counted: the fault tests assert on what reached
// the store (none, one flight, some failed), never on how long anything took.
import type { Store } from "../../src/store/types.ts";

/** `store` behind a Proxy counting every method call and every call that rejected. */
export function countingStore<S extends Store>(store: S): { store: S; calls(): number; failures(): number } {
  let calls = 0;
  let failures = 0;
  const wrapped = new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        calls++;
        const out = (v as (...a: unknown[]) => unknown).apply(target, args);
        if (out instanceof Promise) out.catch(() => failures++);
        return out;
      };
    },
  });
  return { store: wrapped, calls: () => calls, failures: () => failures };
}
