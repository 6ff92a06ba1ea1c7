import { decodeBase64url } from "../base64url.ts";

/** Big-endian unsigned bytes to a bigint. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex === "" ? 0n : BigInt("0x" + hex);
}

/** A base64url member to a bigint (throws TypeError when not base64url). */
export function memberToBigInt(value: string): bigint {
  return bytesToBigInt(decodeBase64url(value));
}

/** Bit length of a non-negative integer (0 for 0). The modulus size is measured this way, never read from a field. */
export function bitLength(value: bigint): number {
  return value === 0n ? 0 : value.toString(2).length;
}

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/**
 * Checks that an RSA private key's members agree with each other and with its public half
 * (n, e). Returns the names of the relations that fail, e.g. `["p*q = n"]`, never a value.
 */
export function rsaConsistencyFailures(m: { n: bigint; e: bigint; d: bigint; p: bigint; q: bigint; dp: bigint; dq: bigint; qi: bigint }): string[] {
  const failures: string[] = [];
  if (m.p <= 1n || m.q <= 1n || m.p * m.q !== m.n) failures.push("p*q = n");
  if (m.p > 1n && m.q > 1n) {
    if (mod(m.e * m.d, m.p - 1n) !== 1n || mod(m.e * m.d, m.q - 1n) !== 1n) failures.push("e*d = 1 mod (p-1) and (q-1)");
    if (mod(m.d, m.p - 1n) !== m.dp) failures.push("dp = d mod (p-1)");
    if (mod(m.d, m.q - 1n) !== m.dq) failures.push("dq = d mod (q-1)");
    if (mod(m.qi * m.q, m.p) !== 1n) failures.push("qi*q = 1 mod p");
  }
  return failures;
}
