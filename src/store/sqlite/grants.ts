// The SQLite backend's grant role: table `grants` (migration 4), written only by compare-and-set
// on the version.
import { sqlGrant } from "../common.ts";
import type { GrantState, GrantStore, GrantWrite } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { SqliteHost } from "./host.ts";

/** Grants over one SQLite database. */
export class SqliteGrants extends BackendRole<SqliteHost> implements GrantStore {
  getGrant(credentialId: string): Promise<GrantState | null> {
    return this.h.run("getGrant", () => {
      const r = this.h.stmt("SELECT * FROM grants WHERE credential_id = ?").get(credentialId);
      return r ? sqlGrant(r) : null;
    });
  }
  swapGrant(credentialId: string, expectedVersion: number, next: GrantWrite): Promise<number | null> {
    return this.h.run("swapGrant", () => {
      // One statement either way, so the compare and the set are one step.
      const r =
        expectedVersion === 0
          ? this.h.stmt("INSERT INTO grants (credential_id, secret, version, status, updated_at) VALUES (?, ?, 1, ?, ?) ON CONFLICT (credential_id) DO NOTHING").run(credentialId, next.secret, next.status, next.updatedAt)
          : this.h.stmt("UPDATE grants SET secret = ?, version = version + 1, status = ?, updated_at = ? WHERE credential_id = ? AND version = ?").run(next.secret, next.status, next.updatedAt, credentialId, expectedVersion);
      return Number(r.changes) === 1 ? expectedVersion + 1 : null;
    });
  }
}
