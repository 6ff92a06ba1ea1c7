import { MemoryStore } from "../../src/store/memory.ts";
import { runStoreContract } from "./contract.ts";

runStoreContract("memory", async () => {
  const store = new MemoryStore();
  await store.migrate();
  return { store, cleanup: () => store.close() };
});
