// The dashboard end to end in a real browser: Debian's chromium driven by playwright-core.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { request, startTestBroker, testApiKey, type TestBroker } from "./helpers.ts";
import { deliverTestWebhook, issueTestToken, testKeyPair, tokenLedger } from "../helpers/emulator.ts";
import { createWorksApp, registerWorksApp } from "../helpers/works-emulator.ts";
import { OAUTH2_KIND } from "../../src/kinds/oauth2/registration.ts";
import { addRegistration, testRegistration } from "../helpers/oauth-registration.ts";
import { storeLoginGrant } from "../../src/tokens/oauth-grants.ts";

/** Screenshots land in the repository's (git-ignored) test output folder. */
const SCREENSHOTS = fileURLToPath(new URL("../../.tmp/screenshots/", import.meta.url));

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
  // No OAuth provider registered: no grants section.
  assert.equal(await page.isHidden("#grants-section"), true);

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

/** Elements whose right edge is past the viewport, outside the containers meant to scroll. */
function overflowing(page: Page): Promise<string[]> {
  // A string, run in the page (this project's TypeScript has no DOM types).
  return page.evaluate(`(() => {
    const width = document.documentElement.clientWidth;
    const out = [];
    if (document.documentElement.scrollWidth > width) out.push("page scrollWidth " + document.documentElement.scrollWidth + " > " + width);
    for (const e of document.querySelectorAll("body *")) {
      if (e.closest(".scroll") !== null || e.getClientRects().length === 0) continue;
      const r = e.getBoundingClientRect();
      if (r.width > 0 && r.right > width + 0.5) out.push(e.tagName.toLowerCase() + "." + (e.getAttribute("class") || "") + " right " + Math.round(r.right) + " > " + width);
    }
    return out;
  })()`);
}

test("the dashboard to look at: a timeline per valid token, budget gauge and charts, no horizontal overflow at 1280, 390 and 360 px", { skip: executablePath === null }, async () => {
  const [ch] = t.channels;
  const id = ch!.channelId;
  // A channel with history: a superseded token in its grace period, a current one, an orphan.
  await t.broker.manager.issue(id, { actor: "test" });
  await t.broker.manager.issue(id, { actor: "test" });
  await issueTestToken(t.emu.url, ch!);
  await t.broker.manager.reconcile(id, { actor: "test" });
  // Traffic for the charts: token API (ok and refused) and webhooks (accepted and refused).
  const key = await testApiKey(t.store, [id]);
  for (let i = 0; i < 3; i++) assert.equal((await request(`${t.url}/v1/channels/${id}/token`, { headers: { authorization: `Bearer ${key.key}` } })).status, 200);
  assert.equal((await request(`${t.url}/v1/channels/${id}/token`)).status, 401);
  for (let i = 0; i < 2; i++) assert.equal((await deliverTestWebhook(t.emu.url, { channelId: id, url: `${t.url}/webhook/${id}`, events: [{ type: "follow" }] })).status, 200);
  assert.equal((await fetch(`${t.url}/webhook/${id}`, { method: "POST", headers: { "x-line-signature": "bm9wZQ==" }, body: "{}" })).status, 401);
  const valid = (await tokenLedger(t.emu.url, id)).filter((r) => r.state === "valid").map((r) => r.key_id!);
  assert.equal(valid.length, 3, "the superseded, the current and the orphan token are valid at LINE");
  mkdirSync(SCREENSHOTS, { recursive: true });

  for (const width of [1280, 390, 360]) {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    // The page asks for its session before login: that 401 is expected, any other console error is not.
    page.on("console", (m) => void (m.type() === "error" && !/status of 401/.test(m.text()) && errors.push(m.text())));
    // The server's root leads to the dashboard.
    await page.goto(`${t.url}/`);
    assert.equal(new URL(page.url()).pathname, "/ui/");
    await page.fill("#admin-token", ADMIN);
    await page.click("#login-button");
    const card = page.locator(`.channel[data-channel="${id}"]`);
    await card.locator(".timeline .tl-token").first().waitFor();
    await page.locator("#activity-tokens svg").waitFor();

    // One timeline entry per token valid at LINE, with its state; now is marked.
    for (const keyId of valid) assert.equal(await card.locator(`.timeline .tl-token[data-key-id="${keyId}"]`).count(), 1, `${keyId} on the timeline at ${width} px`);
    assert.deepEqual((await card.locator(".timeline .tl-token").evaluateAll((gs) => gs.map((g) => g.getAttribute("class")))).sort(), ["tl-token tl-orphan", "tl-token tl-revoked", "tl-token tl-superseded", "tl-token tl-valid"]);
    assert.equal(await card.locator(".timeline .tl-now").count(), 1);
    // The budget: 2 of kagiya's own and 1 orphan of 30, the orphan shown apart.
    assert.match(await card.locator(".budget").textContent() ?? "", /3 of 30 \(1 orphan\)/);
    assert.deepEqual(await card.locator(".gauge rect").evaluateAll((rs) => rs.map((r) => r.getAttribute("class"))).then((c) => [c.filter((x) => x === "gauge-own").length, c.filter((x) => x === "gauge-orphan").length, c.length]), [2, 1, 30]);
    // The superseded token says when it will be revoked, not its refresh point.
    const supersededRow = card.locator("tr.token", { has: page.locator("td.state-superseded") });
    assert.match(await supersededRow.locator("td.next-step").textContent() ?? "", /^revoked /);
    // The charts come from the server's counters.
    assert.match(await page.locator("#activity-tokens .legend").textContent() ?? "", /ok 3.*refused 1/);
    assert.match(await page.locator("#activity-webhooks .legend").textContent() ?? "", /accepted 2.*bad_signature 1/);
    assert.ok(await page.locator("#activity-tokens svg rect[data-outcome=ok]").count() >= 1);
    // The CJK name renders with a CJK-capable face from the stack.
    assert.match(await page.evaluate("getComputedStyle(document.body).fontFamily"), /Noto Sans CJK JP/);

    assert.deepEqual(await overflowing(page), [], `horizontal overflow at ${width} px`);
    if (width !== 360) await page.screenshot({ path: `${SCREENSHOTS}dashboard-${width}.png`, fullPage: true });
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test("many credentials come a page at a time; a LINE WORKS app is shown with its scope and bot; filters go to the server", { skip: executablePath === null }, async () => {
  // Runs last: it adds credentials the tests above do not expect.
  const { privateJwk } = await testKeyPair();
  for (let i = 0; i < 24; i++) await t.registry.add({ channelId: String(4_000_000_000 + i), kid: `kid-${i}`, privateKey: privateJwk as never, channelSecret: `secret-${i}` });
  const app = await createWorksApp(t.emu.url);
  await registerWorksApp(t.registry as never, app, { id: "works-browser", settings: { scope: "bot user.read", botId: "2000777" } });
  const total = 1 + 24 + 1;

  for (const width of [1280, 360]) {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${t.url}/ui/`);
    await page.fill("#admin-token", ADMIN);
    await page.click("#login-button");
    await page.locator("#channels .channel").first().waitFor();
    assert.equal(await page.locator("#channels .channel").count(), 20, "one page of cards, not all of them");
    assert.equal((await page.textContent("#page-info"))?.trim(), `1–20 of ${total}`);
    assert.equal(await page.isDisabled("#page-prev"), true);

    await page.click("#page-next");
    await page.locator("#page-info", { hasText: `21–${total} of ${total}` }).waitFor();
    assert.equal(await page.locator("#channels .channel").count(), total - 20);
    assert.equal(await page.isDisabled("#page-next"), true);

    // Filter by kind: the one LINE WORKS app, with what it is.
    await page.selectOption("#filter-kind", "line-works");
    await page.click("#filter-form button[type=submit]");
    // Page 2 may already show this card: wait for the filtered page itself, not for the card.
    await page.locator("#page-info", { hasText: "1–1 of 1" }).waitFor();
    const card = page.locator('.channel.works-app[data-channel="works-browser"]');
    await card.waitFor();
    assert.equal(await page.locator("#channels .channel").count(), 1);
    assert.match(await card.locator("h3").textContent() ?? "", /LINE WORKS app works-browser/);
    assert.match(await card.locator(".scope").textContent() ?? "", /bot user\.read/);
    assert.match(await card.locator(".bot").textContent() ?? "", /2000777/);
    assert.match(await card.locator(".expiry").textContent() ?? "", /no valid token/);
    assert.equal(await card.locator("button.reconcile").count(), 0, "no reconcile for LINE WORKS");

    // Filter by ID substring, server-side.
    await page.selectOption("#filter-kind", "");
    await page.fill("#filter-q", "400000001");
    await page.click("#filter-form button[type=submit]");
    await page.locator("#page-info", { hasText: "1–10 of 10" }).waitFor();
    for (const id of await page.locator("#channels .channel").evaluateAll((cs) => cs.map((c) => c.getAttribute("data-channel")))) assert.match(id ?? "", /400000001/);

    assert.deepEqual(await overflowing(page), [], `horizontal overflow at ${width} px`);
    assert.deepEqual(errors, []);
    await context.close();
  }
});

test("OAuth grants: grouped by provider, registration first, states spelled out, counted, paged and filtered; never a token in the page", { skip: executablePath === null }, async () => {
  // Runs after the credential tests: the grants listed are exactly the oauth2 rows added here.
  for (const name of ["acme", "beta", "many"]) {
    const reg = testRegistration(name, `https://${name}.idp.example`, {
      discovery: false, authorizeUrl: `https://${name}.idp.example/authorize`, tokenUrl: `https://${name}.idp.example/token`, clientId: `${name}-client`,
      webRedirectUri: `${t.url}/oauth/${name}/callback`, apiOrigins: [`https://api.${name}.example`],
    });
    await addRegistration(t.registry, reg, `${name}-secret-0123456789`);
  }
  const webGrant = (id: string, provider: string, subject: string) =>
    t.registry.add({ channelId: id, kind: OAUTH2_KIND, kid: "", privateKey: { kty: "none", d: "" } as never, channelSecret: "", settings: { provider, scope: "openid profile", subject } });
  await webGrant("acme.alice", "acme", "alice-sub");
  await webGrant("acme.bob", "acme", "bob-sub");
  for (let i = 0; i < 50; i++) await webGrant(`many.g${String(i).padStart(2, "0")}`, "many", `user-${i}`);
  // Logins: the registration's own (command line) and two web users; bob's grant is then refused by the provider.
  const secrets: string[] = [];
  for (const id of ["acme", "acme.alice", "acme.bob"]) {
    const accessToken = `at-${id}-${"x".repeat(24)}`;
    const refreshToken = `rt-${id}-${"y".repeat(24)}`;
    secrets.push(accessToken, refreshToken);
    const now = Date.now();
    await storeLoginGrant(t.broker.manager, id, { accessToken, tokenType: "Bearer", expiresAt: now + 3_600_000, refreshToken, scope: ["openid", "profile"], idToken: undefined, idTokenClaims: undefined, obtainedAt: now }, "test");
  }
  const bob = (await t.store.getGrant("acme.bob"))!;
  assert.notEqual(await t.store.swapGrant("acme.bob", bob.version, { secret: bob.secret, status: "reauth_required", updatedAt: Date.now() }), null);

  mkdirSync(SCREENSHOTS, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${t.url}/ui/`);
  await page.fill("#admin-token", ADMIN);
  await page.click("#login-button");
  const acme = page.locator('#grants .grant-group[data-provider="acme"]');
  await acme.waitFor();
  assert.equal(await page.isVisible("#grants-section"), true);
  assert.match(await acme.locator("h3").textContent() ?? "", /Provider acme/);
  assert.match(await acme.textContent() ?? "", /issuer https:\/\/acme\.idp\.example/);
  const rows = acme.locator("tr.grant");
  assert.deepEqual(await rows.evaluateAll((rs) => rs.map((r) => [r.getAttribute("data-grant"), r.getAttribute("data-state")])), [["acme", "active"], ["acme.alice", "active"], ["acme.bob", "reauth_required"]]);
  const cells = async (id: string) => (await page.locator(`tr.grant[data-grant="${id}"] td`).allTextContents()).map((c) => c.trim());
  const alice = await cells("acme.alice");
  assert.equal(alice[1], "active");
  assert.equal(alice[2], "alice-sub");
  assert.equal(alice[3], "openid profile");
  assert.match(alice[4]!, /^(00:59:\d\d|01:00:00)$/);
  assert.notEqual(alice[5], "—");
  assert.equal((await cells("acme.bob"))[1], "needs a new login");
  assert.match((await cells("acme"))[0]!, /acme registration/);
  const beta = await cells("beta");
  assert.equal(beta[1], "not logged in");
  assert.equal(beta[4], "no token");
  assert.equal(await page.locator('#grants .grant-group[data-provider="beta"] tr.grant').count(), 1);
  assert.equal((await cells("many.g00"))[1], "not logged in");
  // Counts per state, for this page (50 of 55 grants).
  const count = (s: string) => page.locator(`#grant-counts .grant-count[data-state="${s}"]`).textContent();
  assert.equal(await count("active"), "active 2");
  assert.equal(await count("reauth_required"), "needs a new login 1");
  assert.equal(await count("no_grant"), "not logged in 47");
  assert.match(await page.textContent("#grant-counts") ?? "", /this page/);
  assert.equal((await page.textContent("#grant-page-info"))?.trim(), "1–50, more follow");
  assert.equal(await page.isDisabled("#grant-prev"), true);

  // Never a token or a refresh token anywhere in the page.
  const html = await page.content();
  for (const secret of secrets) assert.ok(!html.includes(secret), "a token in the page");

  // Next: the rest of provider many's grants.
  await page.click("#grant-next");
  await page.locator("#grant-page-info", { hasText: "51–55" }).waitFor();
  assert.deepEqual(await page.locator("#grants tr.grant").evaluateAll((rs) => rs.map((r) => r.getAttribute("data-grant"))), ["many.g45", "many.g46", "many.g47", "many.g48", "many.g49"]);
  assert.equal(await page.isDisabled("#grant-next"), true);
  await page.click("#grant-prev");
  await page.locator("#grant-page-info", { hasText: "1–50" }).waitFor();

  // The provider filter goes to the server.
  await page.fill("#grant-provider", "acme");
  await page.click("#grant-filter-form button[type=submit]");
  await page.locator("#grant-counts", { hasText: "not logged in 0" }).waitFor();
  assert.deepEqual(await page.locator("#grants .grant-group").evaluateAll((gs) => gs.map((g) => g.getAttribute("data-provider"))), ["acme"]);
  assert.equal(await page.isHidden("#grant-pager"), true);
  assert.ok(!(await page.content()).includes(secrets[0]!));
  // A name the server refuses: its message in the section, nothing stale beside it.
  await page.fill("#grant-provider", "no such!");
  await page.click("#grant-filter-form button[type=submit]");
  await page.locator("#grants .error-text", { hasText: "provider must be a provider name" }).waitFor();
  assert.equal(await page.locator("#grant-counts .grant-count").count(), 0);
  await page.fill("#grant-provider", "acme");
  await page.click("#grant-filter-form button[type=submit]");
  await acme.waitFor();
  await page.locator("#grants-section").screenshot({ path: `${SCREENSHOTS}dashboard-grants-1280.png` });
  await page.setViewportSize({ width: 360, height: 900 });
  assert.deepEqual(await overflowing(page), [], "horizontal overflow at 360 px");
  await page.locator("#grants-section").screenshot({ path: `${SCREENSHOTS}dashboard-grants-360.png` });
  assert.deepEqual(errors, []);
  await page.close();
});
