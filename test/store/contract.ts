// The Store contract, one suite per role (./contract/*.ts). Each backend's test file calls
// runStoreContract with a factory that makes a fresh, isolated, migrated store (own file / key
// prefix / schema); a backend implementing only some roles calls just those roles' runners.
import type { Store } from "../../src/store/types.ts";
import { runApiKeyContract } from "./contract/apikeys.ts";
import { runAuditContract } from "./contract/audit.ts";
import { runCoordinationContract } from "./contract/coordination.ts";
import { runCredentialContract } from "./contract/credentials.ts";
import { runGrantContract } from "./contract/grants.ts";
import type { StoreFactory, SuiteOptions } from "./contract/harness.ts";
import { runLifecycleContract } from "./contract/lifecycle.ts";
import { runInboxContract } from "./contract/inbox.ts";
import { runLockContract } from "./contract/locks.ts";
import { runOnceMarkContract } from "./contract/marks.ts";
import { runSealingContract } from "./contract/sealing.ts";
import { runSettingsContract } from "./contract/settings.ts";
import { runTokenContract } from "./contract/tokens.ts";

export { sharedStoreHarness, tokenRow, type StoreFactory, type StoreHarness } from "./contract/harness.ts";
export { runApiKeyContract, runAuditContract, runCoordinationContract, runCredentialContract, runGrantContract, runInboxContract, runLifecycleContract, runLockContract, runOnceMarkContract, runSealingContract, runSettingsContract, runTokenContract };

/** Every role's suite on one full backend. */
export function runStoreContract(name: string, factory: StoreFactory<Store>, options: SuiteOptions = {}): void {
  for (const run of [
    runLifecycleContract,
    runSettingsContract,
    runCredentialContract,
    runTokenContract,
    runLockContract,
    runOnceMarkContract,
    runInboxContract,
    runApiKeyContract,
    runAuditContract,
    runCoordinationContract,
    runGrantContract,
    runSealingContract,
  ]) {
    run(name, factory, options);
  }
}
