// kagiya dashboard: plain DOM, no dependencies, no inline script (the page's CSP forbids it).
// Every value from the server is written with textContent, never as HTML.
"use strict";

// The credential list comes a page at a time, filtered by the server (kind, state, ID substring).
const state = { csrf: null, clockSkew: 0, channels: [], page: { offset: 0, limit: 20, total: 0 }, filter: { kind: "", state: "", q: "" } };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else if (k === "onclick") node.addEventListener("click", v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return node;
}

function flash(text, kind) {
  const f = $("flash");
  f.textContent = text;
  f.className = kind || "";
}

async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (method !== "GET") {
    headers["content-type"] = "application/json";
    if (state.csrf) headers["x-csrf-token"] = state.csrf;
  }
  const res = await fetch(path, { method, headers, body: method === "GET" ? undefined : JSON.stringify(body || {}), credentials: "same-origin" });
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (res.status === 401 && path !== "/ui/api/login") {
    showLogin();
    throw new Error((data && data.message) || "please log in");
  }
  if (!res.ok) throw new Error((data && data.message) || `request failed (${res.status})`);
  return data;
}

function fmtTime(ms) {
  if (ms == null) return "—";
  return new Date(ms).toLocaleString();
}

function countdown(expiresAt) {
  let s = Math.floor((expiresAt - (Date.now() + state.clockSkew)) / 1000);
  if (s <= 0) return "expired";
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return (d ? `${d}d ` : "") + `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
}

function showLogin() {
  state.csrf = null;
  $("main-view").hidden = true;
  $("logout").hidden = true;
  $("login-view").hidden = false;
}

function showMain() {
  $("login-view").hidden = true;
  $("main-view").hidden = false;
  $("logout").hidden = false;
}

async function action(label, f) {
  try {
    flash(`${label}…`);
    const msg = await f();
    flash(msg || `${label}: done`, "ok");
  } catch (e) {
    flash(`${label}: ${e.message}`, "error");
  }
  await loadAll();
}

function filterQuery() {
  const q = new URLSearchParams();
  for (const k of ["kind", "state", "q"]) if (state.filter[k]) q.set(k, state.filter[k]);
  q.set("offset", String(state.page.offset));
  q.set("limit", String(state.page.limit));
  return q.toString();
}

function renderFilters(kinds) {
  const select = $("filter-kind");
  const chosen = state.filter.kind;
  const names = Object.keys(kinds).sort();
  if (chosen && !names.includes(chosen)) names.push(chosen);
  select.replaceChildren(el("option", { value: "" }, "all"), ...names.map((k) => el("option", { value: k }, `${k} (${kinds[k] || 0})`)));
  select.value = chosen;
}

function renderPager() {
  const { offset, limit, total } = state.page;
  const shown = state.channels.length;
  $("page-info").textContent = total === 0 ? "none" : `${offset + 1}–${offset + shown} of ${total}`;
  $("page-prev").disabled = offset === 0;
  $("page-next").disabled = offset + shown >= total;
}

const isWorks = (ch) => ch.kind === "line-works";

function renderChannels() {
  const box = $("channels");
  box.replaceChildren();
  if (state.channels.length === 0) {
    const filtered = state.filter.kind || state.filter.state || state.filter.q;
    box.append(el("p", { class: "empty" }, filtered ? "No credential matches the filter." : "No credentials registered. Add one with kagiya channel add or kagiya works add."));
    return;
  }
  for (const ch of state.channels) {
    const s = ch.status;
    const id = ch.channelId;
    const works = isWorks(ch);
    const buttons = [el("button", { type: "button", class: "primary issue", onclick: () => action(`Issue token for ${id}`, async () => {
      const r = await api("POST", `/ui/api/channels/${encodeURIComponent(id)}/issue`);
      return `Issued token ${r.keyId} for ${id}`;
    }) }, "Issue token")];
    // Reconcile compares with LINE's list of valid tokens; LINE WORKS has no such list.
    if (!works) buttons.push(el("button", { type: "button", class: "reconcile", onclick: () => action(`Reconcile ${id}`, async () => {
      const r = await api("POST", `/ui/api/channels/${id}/reconcile`);
      return `Reconciled ${id}: ${r.budgetUsed} of 30 used, ${r.orphans.length} orphan(s), ${r.markedRevoked.length} marked revoked`;
    }) }, "Reconcile"));
    const head = el("div", { class: "channel-head" },
      el("h3", {}, works ? `LINE WORKS app ${id}` : `Channel ${id}`),
      el("span", { class: "kind-tag" }, ch.kind),
      works ? el("span", { class: "kid" }, `client ${ch.clientId || "—"}`) : el("span", { class: "kid" }, `kid ${ch.kid}`),
      el("div", { class: "actions" }, ...buttons));
    const node = el("div", { class: works ? "channel works-app" : "channel", "data-channel": id, "data-kind": ch.kind }, head);
    if (!s) {
      node.append(el("p", { class: "error-text" }, ch.error ? ch.error.message : "status unavailable"));
      box.append(node);
      continue;
    }
    const now = Date.now() + state.clockSkew;
    const orphans = s.tokens.filter((t) => t.state === "orphan" && t.expiresAt > now).length;
    const charts = window.kagiyaCharts;
    const current = s.tokens.filter((t) => t.state === "valid").sort((a, b) => b.expiresAt - a.expiresAt)[0];
    if (works) node.append(el("div", { class: "facts works-facts" },
      el("span", { class: "scope" }, "Scope ", el("b", {}, ch.scope || "—")),
      el("span", { class: "bot" }, "Bot ", el("b", {}, ch.botId || "none")),
      el("span", { class: "expiry" }, "Expires in ", current ? el("b", { class: "countdown", "data-expires": String(current.expiresAt) }, countdown(current.expiresAt)) : el("b", {}, "no valid token")),
      el("span", { class: "last-refresh" }, "Last refresh ", el("b", {}, fmtTime(s.lastRefreshAt)))));
    node.append(el("div", { class: "facts" },
      s.budgetLimit === null
        ? el("span", { class: "budget" }, `${s.kind ?? "Tokens"}: `, el("b", {}, `${s.budgetUsed} live`), " (no cap)")
        : el("span", { class: "budget" }, "Budget used ", el("b", {}, `${s.budgetUsed} of ${s.budgetLimit}`),
        orphans > 0 ? el("span", { class: "orphans" }, ` (${orphans} orphan${orphans === 1 ? "" : "s"})`) : ""),
      el("span", { class: "last-issue" }, "Last issued ", el("b", {}, fmtTime(s.lastIssuedAt))),
      el("span", { class: "last-error" }, "Last error ", el("b", { class: s.lastError ? "error-text" : "" }, s.lastError ? `${s.lastError.code}: ${s.lastError.message} (${fmtTime(s.lastError.at)})` : "none"))));
    if (s.budgetLimit !== null) node.append(el("div", { class: "gauge-box" }, charts.budgetGauge(Math.max(0, s.budgetUsed - orphans), orphans, s.budgetLimit)));
    const timelineBox = el("div", { class: "timeline-box" });
    node.append(timelineBox);
    const live = s.tokens.filter((t) => t.state !== "revoked");
    const table = el("table", { class: "tokens" }, el("thead", {}, el("tr", {},
      el("th", {}, "Key ID"), el("th", {}, "State"), el("th", {}, "Issued"), el("th", {}, "Expires in"), el("th", {}, "Refresh / revoke at"), el("th", {}, ""))));
    const tbody = el("tbody");
    if (live.length === 0) tbody.append(el("tr", {}, el("td", { colSpan: 6, class: "empty" }, "No valid tokens.")));
    for (const t of live) {
      tbody.append(el("tr", { class: "token", "data-key-id": t.keyId },
        el("td", {}, el("code", {}, t.keyId)),
        el("td", { class: `state-${t.state}` }, t.state),
        el("td", {}, fmtTime(t.issuedAt)),
        el("td", { class: "countdown", "data-expires": String(t.expiresAt) }, countdown(t.expiresAt)),
        el("td", { class: "next-step" }, t.state === "orphan" ? "—" : t.state === "superseded" ? `revoked ${fmtTime(t.revokeAt)}` : `refresh ${fmtTime(t.refreshAt)}`),
        el("td", {}, t.state === "orphan" ? el("span", { class: "hint", title: "kagiya never held this token, so it cannot revoke it; it counts until it expires" }, "orphan") : el("button", { type: "button", class: "danger revoke", onclick: () => {
          if (!confirm(`Revoke token ${t.keyId} of channel ${id}?`)) return;
          void action(`Revoke ${t.keyId}`, async () => {
            const r = await api("POST", `/ui/api/channels/${id}/revoke`, { keyId: t.keyId });
            if (r.revoked.includes(t.keyId)) return `Revoked token ${t.keyId}`;
            throw new Error(r.skipped.length ? r.skipped[0].reason : "not revoked");
          });
        } }, "Revoke"))));
    }
    table.append(tbody);
    node.append(el("div", { class: "scroll" }, table));
    box.append(node);
    // Drawn at the box's own width (known once in the page), so its text stays readable.
    timelineBox.append(charts.timeline(s.tokens, now, timelineBox.clientWidth || 640));
  }
}

function renderActivity(activity) {
  const charts = window.kagiyaCharts;
  for (const [id, series, label] of [["activity-webhooks", activity.webhooks, "webhook requests"], ["activity-tokens", activity.tokenApi, "token API requests"]]) {
    const totals = charts.activityTotals(series);
    const legend = el("p", { class: "legend" });
    const outcomes = Object.keys(totals);
    if (outcomes.every((o) => totals[o] === 0)) legend.append(el("span", { class: "empty" }, `no ${label} in the last hour`));
    for (const o of outcomes) legend.append(el("span", { class: `key key-${charts.outcomeClass(o)}`, "data-outcome": o }, `${o} ${totals[o]}`));
    $(id).replaceChildren(legend);
    $(id).prepend(charts.activityChart(series, activity.now, `${label} per minute, last hour`, $(id).clientWidth || 320));
  }
}

function renderApiKeys(keys) {
  const tbody = $("apikeys").querySelector("tbody");
  tbody.replaceChildren();
  if (keys.length === 0) tbody.append(el("tr", {}, el("td", { colSpan: 7, class: "empty" }, "No API keys.")));
  for (const k of keys) {
    tbody.append(el("tr", { "data-apikey": k.id },
      el("td", {}, el("code", {}, k.id)),
      el("td", {}, k.name),
      el("td", {}, k.channels.join(", ")),
      el("td", {}, fmtTime(k.createdAt)),
      el("td", {}, fmtTime(k.lastUsedAt)),
      el("td", {}, k.revokedAt ? `revoked ${fmtTime(k.revokedAt)}` : "active"),
      el("td", {}, k.revokedAt ? "" : el("button", { type: "button", class: "danger", onclick: () => {
        if (!confirm(`Revoke API key ${k.id}?`)) return;
        void action(`Revoke API key ${k.id}`, async () => {
          await api("POST", `/ui/api/apikeys/${k.id}/revoke`);
          return `Revoked API key ${k.id}`;
        });
      } }, "Revoke"))));
  }
}

function renderAudit(rows) {
  const tbody = $("audit").querySelector("tbody");
  tbody.replaceChildren();
  if (rows.length === 0) tbody.append(el("tr", {}, el("td", { colSpan: 6, class: "empty" }, "No audit records.")));
  for (const r of rows) {
    tbody.append(el("tr", { "data-action": r.action },
      el("td", {}, fmtTime(r.at)), el("td", {}, r.action), el("td", {}, r.actor),
      el("td", {}, r.channelId || ""), el("td", {}, r.keyId || ""), el("td", {}, r.detail || "")));
  }
}

async function loadAll() {
  if (!state.csrf) return;
  try {
    const channel = $("audit-channel").value.trim();
    const [channels, keys, audit, activity] = await Promise.all([
      api("GET", `/ui/api/channels?${filterQuery()}`),
      api("GET", "/ui/api/apikeys"),
      api("GET", "/ui/api/audit" + (channel ? `?channel=${encodeURIComponent(channel)}` : "")),
      api("GET", "/ui/api/activity"),
    ]);
    state.clockSkew = channels.now - Date.now();
    state.channels = channels.channels;
    state.page.total = channels.total;
    // The list shrank under the page (a filter, a removal): back to its last page.
    if (channels.channels.length === 0 && channels.total > 0 && state.page.offset > 0) {
      state.page.offset = Math.max(0, Math.floor((channels.total - 1) / state.page.limit) * state.page.limit);
      return loadAll();
    }
    renderFilters(channels.kinds);
    renderChannels();
    renderPager();
    renderActivity(activity);
    renderApiKeys(keys.apiKeys);
    renderAudit(audit.audit);
    await window.kagiyaGrants.load((channels.kinds.oauth2 || 0) > 0);
  } catch (e) {
    if (state.csrf) flash(e.message, "error");
  }
}

async function start() {
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("POST", "/ui/api/login", { token: $("admin-token").value });
      $("admin-token").value = "";
      state.csrf = r.csrfToken;
      showMain();
      flash("Logged in", "ok");
      await loadAll();
    } catch (e) {
      flash(`Login failed: ${e.message}`, "error");
    }
  });
  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/ui/api/logout"); } catch { /* already out */ }
    showLogin();
    flash("Logged out", "ok");
  });
  $("refresh").addEventListener("click", () => void loadAll());
  $("filter-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.filter = { kind: $("filter-kind").value, state: $("filter-state").value, q: $("filter-q").value.trim() };
    state.page.offset = 0;
    void loadAll();
  });
  $("page-prev").addEventListener("click", () => {
    state.page.offset = Math.max(0, state.page.offset - state.page.limit);
    void loadAll();
  });
  $("page-next").addEventListener("click", () => {
    state.page.offset += state.page.limit;
    void loadAll();
  });
  $("audit-channel").addEventListener("change", () => void loadAll());
  window.kagiyaGrants.bind();
  $("apikey-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const channels = $("apikey-channels").value.split(",").map((c) => c.trim()).filter(Boolean);
    void action("Create API key", async () => {
      const r = await api("POST", "/ui/api/apikeys", { name: $("apikey-name").value.trim() || undefined, channels });
      $("new-key-text").textContent = r.key;
      $("new-key").hidden = false;
      return `Created API key ${r.id}; copy it now, it is not shown again`;
    });
  });
  setInterval(() => {
    for (const td of document.querySelectorAll(".countdown[data-expires]")) td.textContent = countdown(Number(td.getAttribute("data-expires")));
  }, 1000);
  setInterval(() => void loadAll(), 15000);
  let resized = null;
  window.addEventListener("resize", () => {
    clearTimeout(resized);
    resized = setTimeout(() => void loadAll(), 200);
  });
  try {
    const r = await fetch("/ui/api/session", { credentials: "same-origin" });
    if (r.ok) {
      state.csrf = (await r.json()).csrfToken;
      showMain();
      await loadAll();
      return;
    }
  } catch { /* not logged in */ }
  showLogin();
}

document.addEventListener("DOMContentLoaded", () => void start());
