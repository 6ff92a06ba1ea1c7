// The dashboard end to end in a real browser: Debian's chromium driven by playwright-core.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chromium, type Browser } from "playwright-core";
import { startTestBroker, type TestBroker } from "./helpers.ts";
import { tokenLedger } from "../helpers/emulator.ts";

function chromiumPath(): string | null {
  try {
    return execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

const ADMIN = "browser-admin-token-" + "z".repeat(24);
const executablePath = chromiumPath();
const required = process.env["CI"] === "true" || process.env["KAGIYA_REQUIRE_SERVICES"] === "1";
if (executablePath === null) {
  if (required) throw new Error("chromium is not installed (apt-get install -y chromium); the dashboard browser test needs it");
  console.warn("\n*** SKIPPING the dashboard browser test: chromium is not installed (apt-get install -y chromium) ***\n");
}

let t: TestBroker;
let browser: Browser;
before(async () => {
  if (executablePath === null) return;
  t = await startTestBroker({ channels: 1, server: { adminToken: ADMIN } });
  browser = await chromium.launch({
    executablePath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(async () => {
  await browser?.close();
  await t?.close();
});

test("log in, issue and revoke a token through the page, and see it reflected", { skip: executablePath === null }, async () => {
  const [ch] = t.channels;
  const page = await browser.newPage();
  page.on("dialog", (d) => void d.accept());
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${t.url}/ui/`);

  // A wrong token is refused on the page.
  await page.fill("#admin-token", "wrong-token");
  await page.click("#login-button");
  await page.waitForSelector("#flash.error");
  assert.match(await page.textContent("#flash") ?? "", /Login failed/);

  await page.fill("#admin-token", ADMIN);
  await page.click("#login-button");
  const card = page.locator(`.channel[data-channel="${ch!.channelId}"]`);
  await card.waitFor();
  assert.match(await card.locator(".budget").textContent() ?? "", /0 of 30/);
  assert.match(await card.textContent() ?? "", /No valid tokens/);

  // The session cookie is HttpOnly and SameSite=Strict: not visible to page scripts.
  assert.equal(await page.evaluate("document.cookie"), "");
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "kagiya_session")!;
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");

  await card.locator("button.issue").click();
  const row = card.locator("tr.token");
  await row.first().waitFor();
  const ledger = await tokenLedger(t.emu.url, ch!.channelId);
  assert.equal(ledger.length, 1);
  const keyId = ledger[0]!.key_id!;
  assert.equal(await row.first().getAttribute("data-key-id"), keyId);
  assert.equal((await row.first().locator("td").nth(1).textContent())?.trim(), "valid");
  assert.match(await row.first().locator("td.countdown").textContent() ?? "", /^(6d 23:5\d|7d 00:00):\d\d$/);
  assert.match(await card.locator(".budget").textContent() ?? "", /1 of 30/);
  assert.match(await page.textContent("#flash") ?? "", new RegExp(`Issued token ${keyId}`));
  // The page never shows the token itself.
  assert.ok(!(await page.content()).includes(ledger[0]!.access_token));

  await row.first().locator("button.revoke").click();
  await card.locator("text=No valid tokens.").waitFor();
  assert.equal((await tokenLedger(t.emu.url, ch!.channelId))[0]!.state, "revoked");
  assert.match(await page.textContent("#flash") ?? "", new RegExp(`Revoked token ${keyId}`));

  // The audit log on the page shows the login, the issuance and the revocation.
  const auditText = await page.locator("#audit tbody").textContent() ?? "";
  for (const action of ["admin.login", "token.revoke"]) assert.ok(auditText.includes(action), `${action} in ${auditText}`);
  assert.ok(auditText.includes(keyId));

  // API keys: created through the page, shown once, listed without the key.
  await page.fill("#apikey-name", "from-browser");
  await page.fill("#apikey-channels", ch!.channelId);
  await page.click("#apikey-form button[type=submit]");
  await page.locator("#new-key:not([hidden])").waitFor();
  const key = (await page.textContent("#new-key-text"))!;
  assert.match(key, /^kgy_/);
  await page.locator("#apikeys tbody tr[data-apikey]").first().waitFor();
  assert.ok(!((await page.locator("#apikeys").textContent()) ?? "").includes(key));
  assert.deepEqual(errors, []);
});
