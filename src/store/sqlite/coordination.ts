// The SQLite backend's token-coordination role: tables `issue_intents` and `backoffs` (migration 2).
import type { IssueIntent, SharedBackoff, TokenCoordinationStore } from "../types.ts";
import { BackendRole } from "../backend-role.ts";
import type { SqliteHost } from "./host.ts";

/** Issue intents and shared backoffs over one SQLite database. */
export class SqliteCoordination extends BackendRole<SqliteHost> implements TokenCoordinationStore {
  getIssueIntent(credentialId: string): Promise<IssueIntent | null> {
    return this.h.run("getIssueIntent", () => {
      const r = this.h.stmt("SELECT owner, at FROM issue_intents WHERE credential_id = ?").get(credentialId);
      return r ? { owner: r["owner"] as string, at: r["at"] as number } : null;
    });
  }
  setIssueIntent(credentialId: string, intent: IssueIntent): Promise<void> {
    return this.h.run("setIssueIntent", () => void this.h.stmt("INSERT OR REPLACE INTO issue_intents (credential_id, owner, at) VALUES (?, ?, ?)").run(credentialId, intent.owner, intent.at));
  }
  clearIssueIntent(credentialId: string, owner?: string): Promise<void> {
    return this.h.run("clearIssueIntent", () => {
      if (owner === undefined) this.h.stmt("DELETE FROM issue_intents WHERE credential_id = ?").run(credentialId);
      else this.h.stmt("DELETE FROM issue_intents WHERE credential_id = ? AND owner = ?").run(credentialId, owner);
    });
  }
  getBackoff(credentialId: string): Promise<SharedBackoff | null> {
    return this.h.run("getBackoff", () => {
      const r = this.h.stmt("SELECT retry_at, code, message FROM backoffs WHERE credential_id = ?").get(credentialId);
      return r ? { retryAt: r["retry_at"] as number, code: r["code"] as string, message: r["message"] as string } : null;
    });
  }
  setBackoff(credentialId: string, b: SharedBackoff): Promise<void> {
    return this.h.run("setBackoff", () => void this.h.stmt("INSERT OR REPLACE INTO backoffs (credential_id, retry_at, code, message) VALUES (?, ?, ?, ?)").run(credentialId, b.retryAt, b.code, b.message));
  }
  clearBackoff(credentialId: string): Promise<void> {
    return this.h.run("clearBackoff", () => void this.h.stmt("DELETE FROM backoffs WHERE credential_id = ?").run(credentialId));
  }
}
