import { KeyError } from "../errors.ts";

/**
 * Just enough DER and PEM to tell which kind of key a PEM holds and to wrap PKCS #1 RSA keys
 * into the PKCS #8 / SPKI containers WebCrypto imports. No general ASN.1 here on purpose.
 */

/** Algorithm OIDs (DER content bytes, hex) we recognise, with a name for messages. */
const ALGORITHMS: Record<string, string> = {
  "2a864886f70d010101": "RSA",
  "2a864886f70d01010a": "RSA-PSS",
  "2a8648ce3d0201": "EC",
  "2b6570": "Ed25519",
  "2b6571": "Ed448",
  "2b656e": "X25519",
  "2b656f": "X448",
  "2a8648ce380401": "DSA",
};
const RSA_OID_HEX = "2a864886f70d010101";

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function readTlv(der: Uint8Array, offset: number): Tlv {
  if (offset + 2 > der.length) throw new RangeError("truncated DER");
  const tag = der[offset]!;
  let len = der[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    if (count === 0 || count > 4 || start + count > der.length) throw new RangeError("bad DER length");
    len = 0;
    for (let i = 0; i < count; i++) len = len * 256 + der[start + i]!;
    start += count;
  }
  if (start + len > der.length) throw new RangeError("truncated DER");
  return { tag, start, end: start + len };
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** The algorithm name inside a PKCS #8 (`private`) or SPKI (`public`) structure, or "unknown". */
export function algorithmOf(der: Uint8Array, kind: "private" | "public"): string {
  try {
    const outer = readTlv(der, 0);
    if (outer.tag !== 0x30) return "unknown";
    let at = outer.start;
    if (kind === "private") at = readTlv(der, at).end; // skip the version INTEGER
    const algId = readTlv(der, at);
    if (algId.tag !== 0x30) return "unknown";
    const oid = readTlv(der, algId.start);
    if (oid.tag !== 0x06) return "unknown";
    return ALGORITHMS[hex(der.subarray(oid.start, oid.end))] ?? "unknown";
  } catch {
    return "unknown";
  }
}

function tlv(tag: number, content: Uint8Array): Uint8Array {
  const len = content.length;
  const head = len < 0x80 ? [tag, len] : len < 0x100 ? [tag, 0x81, len] : len < 0x10000 ? [tag, 0x82, len >> 8, len & 0xff] : [tag, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff];
  const out = new Uint8Array(head.length + len);
  out.set(head, 0);
  out.set(content, head.length);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function rsaAlgorithmIdentifier(): Uint8Array {
  const oid = new Uint8Array(RSA_OID_HEX.match(/../g)!.map((h) => parseInt(h, 16)));
  return tlv(0x30, concat(tlv(0x06, oid), new Uint8Array([0x05, 0x00])));
}

/** Wraps a PKCS #1 RSAPrivateKey into PKCS #8. */
export function pkcs1PrivateToPkcs8(pkcs1: Uint8Array): Uint8Array {
  return tlv(0x30, concat(new Uint8Array([0x02, 0x01, 0x00]), rsaAlgorithmIdentifier(), tlv(0x04, pkcs1)));
}

/** Wraps a PKCS #1 RSAPublicKey into SubjectPublicKeyInfo. */
export function pkcs1PublicToSpki(pkcs1: Uint8Array): Uint8Array {
  return tlv(0x30, concat(rsaAlgorithmIdentifier(), tlv(0x03, concat(new Uint8Array([0]), pkcs1))));
}

/** One PEM block: its label (e.g. "PRIVATE KEY") and DER bytes. */
export interface PemBlock {
  label: string;
  der: Uint8Array;
  /** RFC 1421 headers such as `Proc-Type: 4,ENCRYPTED` were present. */
  hasHeaders: boolean;
}

/** Finds the first PEM block whose label names a key; throws KeyError when there is none. */
export function readPemBlock(text: string): PemBlock {
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  let first: RegExpExecArray | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    first ??= m;
    if (/KEY/.test(m[1]!)) {
      first = m;
      break;
    }
  }
  if (!first) throw new KeyError("the PEM text has no complete -----BEGIN ...----- / -----END ...----- block", { code: "ERR_KEY_PARSE" });
  const label = first[1]!;
  const body = first[2]!;
  const hasHeaders = /^[A-Za-z-]+:/m.test(body);
  const b64 = body.split(/\r?\n/).filter((l) => !/^[A-Za-z-]+:/.test(l)).join("").replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length === 0) {
    throw new KeyError(`the PEM block "${label}" is not valid base64`, { code: "ERR_KEY_PARSE" });
  }
  let binary: string;
  try {
    binary = atob(b64);
  } catch {
    throw new KeyError(`the PEM block "${label}" is not valid base64`, { code: "ERR_KEY_PARSE" });
  }
  const der = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) der[i] = binary.charCodeAt(i);
  return { label, der, hasHeaders };
}
