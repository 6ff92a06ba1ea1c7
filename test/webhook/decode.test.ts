import { test } from "node:test";
import assert from "node:assert/strict";
import { webUtf8Decoder } from "../../src/webhook/intake.ts";
import { nodeUtf8Decoder } from "../../src/webhook/adapters/node.ts";
import { prng } from "./fixtures.ts";

test("the Node adapters' UTF-8 decoder agrees with the fatal TextDecoder on 20,000 random byte strings", () => {
  const rand = prng(4242);
  const samples: Uint8Array[] = [
    new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
    new Uint8Array([0xef, 0xbb]),
    new Uint8Array([0xc3, 0x28]),
    new Uint8Array([0xed, 0xa0, 0x80]), // a lone surrogate encoded: invalid
    new Uint8Array([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF: invalid
    new TextEncoder().encode('{"text":"こんにちは!🎉"}'),
  ];
  for (let i = 0; i < 20_000; i++) {
    const len = Math.floor(rand() * 24);
    const bytes = new Uint8Array(len);
    // Mostly plausible UTF-8 lead/continuation bytes, so both valid and invalid strings occur.
    for (let j = 0; j < len; j++) bytes[j] = rand() < 0.5 ? Math.floor(rand() * 0x80) : 0x80 + Math.floor(rand() * 0x80);
    samples.push(bytes);
  }
  let valid = 0;
  for (const s of samples) {
    const a = webUtf8Decoder(s);
    assert.equal(nodeUtf8Decoder(Buffer.from(s)), a, Buffer.from(s).toString("hex"));
    assert.equal(nodeUtf8Decoder(s), a);
    if (a !== null) valid++;
  }
  assert.ok(valid > 100 && valid < samples.length - 100, `both outcomes covered (${valid} valid)`);
});
