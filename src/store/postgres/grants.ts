// The PostgreSQL backend's grant role: table `grants` (migration 4), written only by
// compare-and-set on the version.
import { sqlGrant } from "../common.ts";
import type { GrantState, GrantStore, GrantWrite } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { PostgresHost } from "./host.ts";

/** Grants over one schema. */
export class PostgresGrants extends BackendRole<PostgresHost> implements GrantStore {
  async getGrant(credentialId: string): Promise<GrantState | null> {
    const r = (await this.h.q("getGrant", `SELECT * FROM ${this.h.s}.grants WHERE credential_id = $1`, [credentialId])).rows[0];
    return r ? sqlGrant(r) : null;
  }
  async swapGrant(credentialId: string, expectedVersion: number, next: GrantWrite): Promise<number | null> {
    const r =
      expectedVersion === 0
        ? await this.h.q("swapGrant", this.h.sql.insertGrant, [credentialId, next.secret, next.status, next.updatedAt], "kagiya_insert_grant")
        : await this.h.q("swapGrant", this.h.sql.updateGrant, [credentialId, next.secret, next.status, next.updatedAt, expectedVersion], "kagiya_update_grant");
    return r.rowCount === 1 ? expectedVersion + 1 : null;
  }
}
