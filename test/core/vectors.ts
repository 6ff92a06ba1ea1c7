// Loads the data files in test/fixtures/vectors (not a test itself).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const VECTORS_DIR = fileURLToPath(new URL("../fixtures/vectors/", import.meta.url));
export const KEYS_DIR = VECTORS_DIR + "keys/";

export interface JwsVector {
  privateJwk: Record<string, unknown>;
  header: string;
  payload: string;
  jws?: string;
  jwt?: string;
}

export function vector(name: "rfc7515-a2" | "line-docs-pyjwt" | "line-docs-node-jose"): JwsVector {
  return JSON.parse(readFileSync(VECTORS_DIR + name + ".json", "utf8")) as JwsVector;
}

export function keyText(file: string): string {
  return readFileSync(KEYS_DIR + file, "utf8");
}

/** Collects every string anywhere in a JWK that is a private member value (for "never printed" checks). */
export function privateValues(jwk: Record<string, unknown>): string[] {
  return ["d", "p", "q", "dp", "dq", "qi", "k"].map((m) => jwk[m]).filter((v): v is string => typeof v === "string");
}
