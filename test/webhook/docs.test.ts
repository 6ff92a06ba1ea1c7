import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { WEBHOOK_REJECTION_CODES, WebhookConfigError, WebhookBodyConsumedError, BotSendError } from "../../src/webhook/errors.ts";

test("docs/webhook.md lists every webhook error code with the status it answers", () => {
  const docs = readFileSync(new URL("../../docs/webhook.md", import.meta.url), "utf8");
  for (const [code, status] of Object.entries(WEBHOOK_REJECTION_CODES)) {
    const row = docs.split("\n").find((l) => l.startsWith("|") && l.endsWith(`| \`${code}\` |`));
    assert.ok(row, `${code} has a row in "What it answers"`);
    assert.ok(row.includes(String(status)), `${code} row names ${status}`);
  }
  for (const code of [new WebhookConfigError("x").code, new WebhookBodyConsumedError().code, new BotSendError("x", 401).code]) {
    assert.ok(docs.includes(code), code);
  }
});
