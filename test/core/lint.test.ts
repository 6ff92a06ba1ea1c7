import { test } from "node:test";
import assert from "node:assert/strict";
import { lintKey } from "../../src/core/keys/lint.ts";
import { generateAssertionKeyPair } from "../../src/core/keys/generate.ts";
import { importAssertionKey } from "../../src/core/keys/import.ts";
import { KeyError } from "../../src/core/errors.ts";
import { keyText, privateValues, vector } from "./vectors.ts";
import { CORPUS, N_1024, PRIVATE, PUBLIC } from "./key-corpus.ts";

test("the clean public and private keys the corpus starts from have no findings", async () => {
  assert.deepEqual((await lintKey(PUBLIC)).findings, []);
  assert.deepEqual((await lintKey(PRIVATE)).findings, []);
  assert.equal((await lintKey(PRIVATE)).kind, "private");
});

test("lintKey catches each broken key in the corpus with exactly the rule it breaks", async () => {
  for (const entry of CORPUS) {
    const { findings } = await lintKey(entry.key, { public: entry.public === true });
    assert.deepEqual(findings.map((f) => [f.code, f.field]), [[entry.code, entry.field]], entry.name);
    for (const f of findings) {
      assert.ok(f.message.length > 0 && f.fix.length > 0, entry.name);
      for (const secret of privateValues(PRIVATE)) assert.ok(!(f.message + f.fix).includes(secret.slice(0, 16)), `${entry.name} leaks a private member`);
    }
  }
});

test("lintKey measures the modulus from n, ignoring any size field", async () => {
  const { findings, bits } = await lintKey({ ...PUBLIC, n: N_1024, bits: 2048, key_size: 2048 });
  assert.equal(bits, 1024);
  assert.deepEqual(findings.map((f) => f.code), ["KEY_MODULUS_SIZE"]);
});

test("lintKey reads PEM keys and reports other key types as findings", async () => {
  assert.deepEqual((await lintKey(keyText("rsa2048.pkcs8.pem"))).findings, []);
  assert.deepEqual((await lintKey(keyText("rsa2048.spki.pem"))).findings, []);
  assert.deepEqual((await lintKey(keyText("rsa1024.private.pem"))).findings.map((f) => f.code), ["KEY_MODULUS_SIZE"]);
  assert.deepEqual((await lintKey(keyText("ec-p256.private.pem"))).findings.map((f) => f.code), ["KEY_KTY_NOT_RSA"]);
  await assert.rejects(lintKey("{not json"), (e: unknown) => e instanceof KeyError && e.code === "ERR_KEY_PARSE");
});

test("the LINE docs' node-jose sample key fails only for the kid it carries when linted as the key to register", async () => {
  const nodeJose = vector("line-docs-node-jose").privateJwk;
  assert.deepEqual((await lintKey(nodeJose)).findings, []);
  const pub = { kty: "RSA", alg: "RS256", use: "sig", kid: nodeJose["kid"], n: nodeJose["n"], e: nodeJose["e"] };
  assert.deepEqual((await lintKey(pub)).findings.map((f) => f.code), ["KEY_KID_PRESENT"]);
});

test("generateAssertionKeyPair makes a key that lints clean, with exactly kty, alg, use|key_ops, n, e public", async () => {
  const pair = await generateAssertionKeyPair();
  assert.deepEqual(Object.keys(pair.publicJwk), ["kty", "alg", "use", "n", "e"]);
  assert.deepEqual((await lintKey(pair.publicJwk)).findings, []);
  assert.deepEqual((await lintKey(pair.privateJwk)).findings, []);
  const key = await importAssertionKey(pair.privateJwk);
  assert.equal(key.thumbprint, pair.thumbprint);
  const ops = await generateAssertionKeyPair({ keyOps: true });
  assert.deepEqual(Object.keys(ops.publicJwk), ["kty", "alg", "key_ops", "n", "e"]);
  assert.deepEqual(ops.publicJwk.key_ops, ["verify"]);
  assert.deepEqual((await lintKey(ops.publicJwk)).findings, []);
  assert.deepEqual((await lintKey(ops.privateJwk)).findings, []);
});
