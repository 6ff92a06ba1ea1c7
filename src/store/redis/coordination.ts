// The Redis backend's token-coordination role: `intent:<id>` and `backoff:<id>` hashes (layout 2).
import type { IssueIntent, SharedBackoff, TokenCoordinationStore } from "../types.ts";
import { num } from "./codec.ts";
import * as lua from "./scripts.ts";
import { BackendRole } from "../backend-role.ts";
import type { RedisHost } from "./host.ts";

/** Issue intents and shared backoffs under one key prefix. */
export class RedisCoordination extends BackendRole<RedisHost> implements TokenCoordinationStore {
  getIssueIntent(credentialId: string): Promise<IssueIntent | null> {
    return this.h.run("getIssueIntent", async () => {
      const h = await this.h.client.hgetall(this.h.keys.intent(credentialId));
      return h["owner"] === undefined ? null : { owner: h["owner"], at: num(h["at"]) };
    });
  }
  setIssueIntent(credentialId: string, intent: IssueIntent): Promise<void> {
    return this.h.run("setIssueIntent", async () => {
      const key = this.h.keys.intent(credentialId);
      await this.h.client.multi().del(key).hset(key, { owner: intent.owner, at: String(intent.at) }).exec();
    });
  }
  clearIssueIntent(credentialId: string, owner?: string): Promise<void> {
    return this.h.run("clearIssueIntent", async () => {
      const key = this.h.keys.intent(credentialId);
      if (owner === undefined) await this.h.client.del(key);
      else await lua.CLEAR_INTENT_OF.run(this.h.client, [key], [owner]);
    });
  }
  getBackoff(credentialId: string): Promise<SharedBackoff | null> {
    return this.h.run("getBackoff", async () => {
      const h = await this.h.client.hgetall(this.h.keys.backoff(credentialId));
      return h["code"] === undefined ? null : { retryAt: num(h["retryAt"]), code: h["code"], message: h["message"] ?? "" };
    });
  }
  setBackoff(credentialId: string, b: SharedBackoff): Promise<void> {
    return this.h.run("setBackoff", async () => {
      const key = this.h.keys.backoff(credentialId);
      await this.h.client.multi().del(key).hset(key, { retryAt: String(b.retryAt), code: b.code, message: b.message }).exec();
    });
  }
  clearBackoff(credentialId: string): Promise<void> {
    return this.h.run("clearBackoff", async () => void (await this.h.client.del(this.h.keys.backoff(credentialId))));
  }
}
