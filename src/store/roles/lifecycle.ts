/** Opening, migrating and closing a backend: the part every backend has. */
export interface StoreLifecycle {
  /** Short name: "memory" | "sqlite" | "redis" | "postgres". */
  readonly kind: string;
  /**
   * Creates the schema or upgrades it in place to the current version; idempotent. Throws
   * StoreError `ERR_STORE_SCHEMA` for a store written by a newer kagiya.
   */
  migrate(): Promise<void>;
  /** Throws StoreError when the backend is unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
