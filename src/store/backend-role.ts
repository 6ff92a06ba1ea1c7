/**
 * Base of a backend's role objects (e.g. ./sqlite/tokens.ts): each holds the host its store hands
 * it (the connection and helpers, see the backend's host.ts), set here once for all of them.
 */
export abstract class BackendRole<H> {
  /** The store's connection and helpers. */
  protected readonly h: H;

  constructor(host: H) {
    this.h = host;
  }
}
