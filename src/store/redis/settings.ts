// The Redis backend's settings role: the `meta` hash, and the sealed fields of every key that
// master-key rotation walks and replaces.
import { channelSealedCells, SEALED_META_PREFIX, SECRET_COLUMN_PREFIX, splitTokenRowKey, tokenRowKey } from "../common.ts";
import type { Sealed, SealedCell, SettingsStore } from "../types.ts";
import { toChannel } from "./codec.ts";
import type { RedisGrants } from "./grants.ts";
import * as lua from "./scripts.ts";
import { BackendRole } from "../backend-role.ts";
import type { RedisHost } from "./host.ts";

/** Meta values and sealed cells under one key prefix. */
export class RedisSettings extends BackendRole<RedisHost> implements SettingsStore {
  /** Where the grants' sealed secrets are listed. */
  readonly #grants: RedisGrants;

  constructor(host: RedisHost, grants: RedisGrants) {
    super(host);
    this.#grants = grants;
  }

  getMeta(name: string): Promise<string | null> {
    return this.h.run("getMeta", () => this.h.client.hget(this.h.keys.k("meta"), name));
  }
  setMeta(name: string, value: string): Promise<void> {
    return this.h.run("setMeta", async () => void (await this.h.client.hset(this.h.keys.k("meta"), name, value)));
  }

  listSealed(): Promise<SealedCell[]> {
    return this.h.run("listSealed", async () => {
      const cells: SealedCell[] = [];
      for (const id of (await this.h.client.smembers(this.h.keys.k("chids"))).sort()) {
        const h = await this.h.client.hgetall(this.h.keys.k(`ch:${id}`));
        if (h["channelId"] !== undefined) cells.push(...channelSealedCells(toChannel(h)));
      }
      for (const ch of await this.h.client.smembers(this.h.keys.k("tokch"))) {
        for (const keyId of await this.h.client.smembers(this.h.keys.tokIds(ch))) {
          const v = await this.h.client.hget(this.h.keys.tokBase(ch) + keyId, "accessToken");
          if (v != null) cells.push({ table: "tokens", row: tokenRowKey(ch, keyId), column: "accessToken", value: v });
        }
      }
      for (const [id, value] of await this.#grants.sealedSecrets()) cells.push({ table: "grants", row: id, column: "secret", value });
      const meta = await this.h.client.hgetall(this.h.keys.k("meta"));
      for (const [name, value] of Object.entries(meta)) {
        if (name.startsWith(SEALED_META_PREFIX)) cells.push({ table: "meta", row: name, column: "value", value });
      }
      return cells;
    });
  }

  replaceSealed(cell: SealedCell, expected: Sealed): Promise<boolean> {
    return this.h.run("replaceSealed", async () => {
      let key: string;
      if (cell.table === "meta" && cell.column === "value") key = this.h.keys.k("meta");
      else if (cell.table === "channels" && (cell.column === "privateKey" || cell.column === "channelSecret" || cell.column.startsWith(SECRET_COLUMN_PREFIX))) key = this.h.keys.k(`ch:${cell.row}`);
      else if (cell.table === "tokens" && cell.column === "accessToken") {
        const [ch, keyId] = splitTokenRowKey(cell.row);
        key = this.h.keys.tokBase(ch) + keyId;
      } else if (cell.table === "grants" && cell.column === "secret") key = this.h.keys.grant(cell.row);
      else return false;
      const field = cell.table === "meta" ? cell.row : cell.column;
      return (await lua.REPLACE_FIELD.run(this.h.client, [key], [field, expected, cell.value])) === 1;
    });
  }
}
