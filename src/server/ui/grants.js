// kagiya dashboard: the OAuth 2.0 grants section, from GET /ui/api/grants a page at a time (by grant
// ID, `next` is the following page's `after`), grouped by provider, the registration first. The
// listing carries no token and nothing here asks for one. Uses $, el, api, fmtTime and countdown from
// app.js (classic scripts share their top-level names); app.js calls kagiyaGrants.load.
"use strict";

/** Grants per page: a provider with many web logins still comes in readable pieces. */
const GRANTS_PAGE = 50;
// back: the `after` of each earlier page, so Previous can return; providers: names seen, for the filter's suggestions.
const grantView = { provider: "", after: null, back: [], next: null, providers: new Set() };

const isRegistration = (g) => g.name === g.provider;

/** What each state means to whoever reads the page (no_grant: nobody logged in through it yet). */
const STATE_LABELS = [["active", "active"], ["reauth_required", "needs a new login"], ["no_grant", "not logged in"]];
const grantStateText = (g) => (STATE_LABELS.find(([s]) => s === g.state) || [g.state, g.state])[1];

function renderGrantCounts(list) {
  const counts = { active: 0, reauth_required: 0, no_grant: 0 };
  for (const g of list) counts[g.state] = (counts[g.state] || 0) + 1;
  const paged = grantView.next !== null || grantView.after !== null;
  const box = $("grant-counts");
  box.replaceChildren(...STATE_LABELS.map(([s, label]) => el("span", { class: `grant-count state-${s}`, "data-state": s }, `${label} ${counts[s]}`)));
  if (paged) box.append(el("span", { class: "hint" }, "(this page)"));
}

function renderGrantPager(shown) {
  const start = grantView.back.length * GRANTS_PAGE + 1;
  $("grant-page-info").textContent = shown === 0 ? "none" : `${start}–${start + shown - 1}${grantView.next !== null ? ", more follow" : ""}`;
  $("grant-prev").disabled = grantView.back.length === 0;
  $("grant-next").disabled = grantView.next === null;
  $("grant-pager").hidden = grantView.back.length === 0 && grantView.next === null;
}

function grantRow(g) {
  const reg = isRegistration(g);
  return el("tr", { class: reg ? "grant registration" : "grant", "data-grant": g.name, "data-state": g.state },
    el("td", {}, el("code", {}, g.name), reg ? el("span", { class: "hint" }, " registration") : ""),
    el("td", { class: `grant-state state-${g.state}` }, grantStateText(g)),
    el("td", { class: "subject" }, g.subject || "—"),
    el("td", { class: "scope" }, g.scope || "—"),
    g.expiresAt == null
      ? el("td", { class: "expiry" }, "no token")
      : el("td", { class: "expiry countdown", "data-expires": String(g.expiresAt), title: fmtTime(g.expiresAt) }, countdown(g.expiresAt)),
    el("td", { class: "updated" }, fmtTime(g.updatedAt)));
}

function renderGrants(list) {
  const box = $("grants");
  box.replaceChildren();
  if (list.length === 0) {
    box.append(el("p", { class: "empty" }, grantView.provider ? `No grants of provider ${grantView.provider}.` : "No grants."));
    return;
  }
  // The page is in ID order, so a provider's web grants follow its registration; grouped anyway, registration first.
  const groups = new Map();
  for (const g of list) {
    if (!groups.has(g.provider)) groups.set(g.provider, []);
    groups.get(g.provider).push(g);
  }
  for (const [provider, rows] of groups) {
    rows.sort((a, b) => (isRegistration(b) - isRegistration(a)) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const issuer = rows.find((g) => g.issuer)?.issuer;
    const table = el("table", { class: "grants" }, el("thead", {}, el("tr", {},
      el("th", {}, "Grant"), el("th", {}, "State"), el("th", {}, "Subject"), el("th", {}, "Scope"), el("th", {}, "Token expires in"), el("th", {}, "Last change"))),
      el("tbody", {}, ...rows.map(grantRow)));
    box.append(el("div", { class: "grant-group", "data-provider": provider },
      el("div", { class: "channel-head" }, el("h3", {}, `Provider ${provider}`), el("span", { class: "kid" }, issuer ? `issuer ${issuer}` : "no registration")),
      el("div", { class: "scroll" }, table)));
  }
}

function renderProviderSuggestions() {
  $("grant-providers").replaceChildren(...[...grantView.providers].sort().map((p) => el("option", { value: p })));
}

/** Loads and draws the section; hidden when the store has no OAuth credential at all. */
async function loadGrants(hasOAuth) {
  const section = $("grants-section");
  if (!hasOAuth) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const q = new URLSearchParams({ limit: String(GRANTS_PAGE) });
  if (grantView.provider) q.set("provider", grantView.provider);
  if (grantView.after !== null) q.set("after", grantView.after);
  let r;
  try {
    r = await api("GET", `/ui/api/grants?${q}`);
  } catch (e) {
    $("grants").replaceChildren(el("p", { class: "error-text" }, `Grants: ${e.message}`));
    $("grant-counts").replaceChildren();
    $("grant-pager").hidden = true;
    return;
  }
  // The list shrank under a later page: back to the first.
  if (r.grants.length === 0 && grantView.after !== null) {
    grantView.after = null;
    grantView.back = [];
    return loadGrants(hasOAuth);
  }
  grantView.next = r.next;
  for (const g of r.grants) grantView.providers.add(g.provider);
  renderProviderSuggestions();
  renderGrantCounts(r.grants);
  renderGrants(r.grants);
  renderGrantPager(r.grants.length);
}

function bindGrants() {
  // The buttons are only there while the section is shown, that is while OAuth credentials exist.
  const reload = () => loadGrants(true);
  $("grant-filter-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    grantView.provider = $("grant-provider").value.trim();
    grantView.after = null;
    grantView.back = [];
    void reload();
  });
  $("grant-next").addEventListener("click", () => {
    if (grantView.next === null) return;
    grantView.back.push(grantView.after);
    grantView.after = grantView.next;
    void reload();
  });
  $("grant-prev").addEventListener("click", () => {
    if (grantView.back.length === 0) return;
    grantView.after = grantView.back.pop();
    void reload();
  });
}

window.kagiyaGrants = { load: loadGrants, bind: bindGrants };
