// The PostgreSQL backend's token-coordination role: tables `issue_intents` and `backoffs` (migration 2).
import { sqlNumber } from "../common.ts";
import type { IssueIntent, SharedBackoff, TokenCoordinationStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { PostgresHost } from "./host.ts";

/** Issue intents and shared backoffs over one schema. */
export class PostgresCoordination extends BackendRole<PostgresHost> implements TokenCoordinationStore {
  async getIssueIntent(credentialId: string): Promise<IssueIntent | null> {
    const r = (await this.h.q("getIssueIntent", `SELECT owner, at FROM ${this.h.s}.issue_intents WHERE credential_id = $1`, [credentialId], "kagiya_get_intent")).rows[0];
    return r ? { owner: r["owner"] as string, at: sqlNumber(r["at"]) } : null;
  }
  async setIssueIntent(credentialId: string, intent: IssueIntent): Promise<void> {
    await this.h.q("setIssueIntent", this.h.sql.setIntent, [credentialId, intent.owner, intent.at], "kagiya_set_intent");
  }
  async clearIssueIntent(credentialId: string, owner?: string): Promise<void> {
    if (owner === undefined) await this.h.q("clearIssueIntent", `DELETE FROM ${this.h.s}.issue_intents WHERE credential_id = $1`, [credentialId]);
    else await this.h.q("clearIssueIntent", `DELETE FROM ${this.h.s}.issue_intents WHERE credential_id = $1 AND owner = $2`, [credentialId, owner], "kagiya_clear_intent");
  }
  async getBackoff(credentialId: string): Promise<SharedBackoff | null> {
    const r = (await this.h.q("getBackoff", `SELECT retry_at, code, message FROM ${this.h.s}.backoffs WHERE credential_id = $1`, [credentialId], "kagiya_get_backoff")).rows[0];
    return r ? { retryAt: sqlNumber(r["retry_at"]), code: r["code"] as string, message: r["message"] as string } : null;
  }
  async setBackoff(credentialId: string, b: SharedBackoff): Promise<void> {
    await this.h.q("setBackoff", this.h.sql.setBackoff, [credentialId, b.retryAt, b.code, b.message]);
  }
  async clearBackoff(credentialId: string): Promise<void> {
    await this.h.q("clearBackoff", `DELETE FROM ${this.h.s}.backoffs WHERE credential_id = $1`, [credentialId]);
  }
}
