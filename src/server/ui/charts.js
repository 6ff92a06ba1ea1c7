// kagiya dashboard charts: inline SVG drawn with DOM calls, no library and no inline style (the
// page's CSP allows neither); colours come from classes in style.css. Used by app.js.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children) if (c != null) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/** A native tooltip for an SVG shape. */
function tip(text) {
  return svg("title", {}, text);
}

function when(ms) {
  return new Date(ms).toLocaleString();
}

function shortDate(ms) {
  const d = new Date(ms);
  return `${d.getMonth() + 1}/${d.getDate()} ${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** Where a token's bar ends and what ends it. */
function tokenEnd(t) {
  if (t.state === "superseded" && t.revokeAt != null) return { at: t.revokeAt, what: "revoked after the grace period" };
  if (t.state === "revoked" && t.endedAt != null) return { at: t.endedAt, what: "revoked" };
  return { at: t.expiresAt, what: "expires" };
}

const TIMELINE = { row: 30, top: 6, axis: 40 };
const DAY_MS = 86_400_000;

/**
 * A channel's tokens on one time axis: issued → refresh point → expiry (valid), → revocation at the
 * grace end (superseded), → revocation (revoked); orphans hatched; a line marks now. `width` is the
 * box's width in CSS pixels, so that text keeps its size on a phone.
 */
function timeline(tokens, now, width) {
  const shown = tokens.filter((t) => t.state !== "revoked").concat(
    tokens.filter((t) => t.state === "revoked" && t.endedAt != null).sort((a, b) => b.endedAt - a.endedAt).slice(0, 3));
  const W = Math.max(200, Math.round(width));
  const height = TIMELINE.top + Math.max(1, shown.length) * TIMELINE.row + TIMELINE.axis;
  const root = svg("svg", { class: "timeline", viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": `timeline of ${shown.length} token(s)` });
  if (shown.length === 0) {
    root.append(svg("text", { x: W / 2, y: TIMELINE.top + 18, "text-anchor": "middle", class: "muted" }, "no tokens yet"));
  }
  const ends = shown.map((t) => Math.max(t.expiresAt, tokenEnd(t).at));
  const from = Math.min(now - 3_600_000, ...shown.map((t) => t.issuedAt));
  const to = Math.max(now + 3_600_000, ...ends);
  const x = (ms) => 4 + ((ms - from) / (to - from)) * (W - 8);
  shown.forEach((t, i) => {
    const y = TIMELINE.top + i * TIMELINE.row;
    const end = tokenEnd(t);
    const g = svg("g", { class: `tl-token tl-${t.state}`, "data-key-id": t.keyId });
    g.append(svg("text", { x: 4, y: y + 10, class: "tl-label" }, `${t.keyId} · ${t.state}`));
    const barY = y + 15;
    if (t.state === "valid") {
      g.append(svg("rect", { x: x(t.issuedAt), y: barY, width: Math.max(1, x(t.refreshAt) - x(t.issuedAt)), height: 9, class: "tl-bar" },
        tip(`issued ${when(t.issuedAt)}; refresh point ${when(t.refreshAt)}`)));
      g.append(svg("rect", { x: x(t.refreshAt), y: barY, width: Math.max(1, x(t.expiresAt) - x(t.refreshAt)), height: 9, class: "tl-bar tl-after-refresh" },
        tip(`refresh point ${when(t.refreshAt)}; expires ${when(t.expiresAt)}`)));
      g.append(svg("path", { d: `M${x(t.refreshAt)} ${barY - 3}l4 -4l4 4z`, class: "tl-refresh" }, tip(`refresh point ${when(t.refreshAt)}`)));
    } else {
      g.append(svg("rect", { x: x(t.issuedAt), y: barY, width: Math.max(1, x(end.at) - x(t.issuedAt)), height: 9, class: "tl-bar" },
        tip(`${t.state === "orphan" ? "seen by reconcile" : "issued"} ${when(t.issuedAt)}; ${end.what} ${when(end.at)}`)));
      if (t.state === "superseded" && end.at < t.expiresAt) {
        g.append(svg("line", { x1: x(end.at), x2: x(t.expiresAt), y1: barY + 4.5, y2: barY + 4.5, class: "tl-would-expire" }, tip(`would expire ${when(t.expiresAt)}`)));
      }
    }
    g.append(svg("line", { x1: x(end.at), x2: x(end.at), y1: barY - 2, y2: barY + 11, class: "tl-end" }, tip(`${end.what} ${when(end.at)}`)));
    root.append(g);
  });
  const axisY = height - TIMELINE.axis + 6;
  root.append(svg("line", { x1: 4, x2: W - 4, y1: axisY, y2: axisY, class: "axis" }));
  // A tick a day, for scale (tokens live days; a grace period, minutes).
  if (to - from <= 62 * DAY_MS) {
    for (let d = from + DAY_MS; d < to; d += DAY_MS) root.append(svg("line", { x1: x(d), x2: x(d), y1: axisY - 3, y2: axisY + 3, class: "axis" }));
  }
  root.append(svg("text", { x: 4, y: axisY + 30, class: "muted" }, shortDate(from)));
  root.append(svg("text", { x: W - 4, y: axisY + 30, "text-anchor": "end", class: "muted" }, shortDate(to)));
  const nx = x(now);
  // Beneath the bars and labels, so that it never hides a key ID.
  root.prepend(svg("line", { x1: nx, x2: nx, y1: 2, y2: axisY + 4, class: "tl-now" }, tip(`now ${when(now)}`)));
  root.append(svg("text", { x: nx, y: axisY + 15, "text-anchor": nx > W - 60 ? "end" : nx < 60 ? "start" : "middle", class: "tl-now-label" }, "now"));
  return root;
}

/** LINE's per-channel budget: one cell per token, kagiya's own and orphans apart, the rest free. */
function budgetGauge(own, orphans, limit) {
  const cell = 12;
  const root = svg("svg", { class: "gauge", viewBox: `0 0 ${limit * cell} ${cell}`, role: "img", "aria-label": `${own + orphans} of ${limit} used, ${orphans} orphan(s)` });
  for (let i = 0; i < limit; i++) {
    const kind = i < own ? "own" : i < own + orphans ? "orphan" : "free";
    root.append(svg("rect", { x: i * cell + 1, y: 1, width: cell - 2, height: cell - 2, rx: 2, class: `gauge-${kind}` }));
  }
  return root;
}

/** Outcomes drawn as good, refused or failed. */
function outcomeClass(outcome) {
  if (outcome === "accepted" || outcome === "ok") return "ok";
  if (outcome === "error" || outcome === "failed" || outcome === "busy" || outcome === "timeout") return "failed";
  return "refused";
}

/** Requests per interval over the last hour as stacked bars, one colour per kind of outcome. */
function activityChart(series, now, label, width) {
  const W = Math.max(200, Math.round(width)), H = 90, bottom = 16;
  const root = svg("svg", { class: "activity", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  const span = now - series.from;
  const max = Math.max(1, ...series.points.map((p) => Object.values(p.counts).reduce((a, b) => a + b, 0)));
  const slot = (W - 8) / 60;
  for (const p of series.points) {
    const right = 4 + ((p.at - series.from) / span) * (W - 8);
    let y = H - bottom;
    for (const o of series.outcomes) {
      const n = p.counts[o] || 0;
      if (n <= 0) continue;
      const h = (n / max) * (H - bottom - 12);
      y -= h;
      root.append(svg("rect", { x: Math.max(4, right - slot + 1), y, width: Math.max(1, slot - 1), height: h, class: `bar-${outcomeClass(o)}`, "data-outcome": o },
        tip(`${n} ${o}, minute to ${new Date(p.at).toLocaleTimeString()}`)));
    }
  }
  root.append(svg("line", { x1: 4, x2: W - 4, y1: H - bottom, y2: H - bottom, class: "axis" }));
  root.append(svg("text", { x: 4, y: H - 3, class: "muted" }, "−60 min"));
  root.append(svg("text", { x: W - 4, y: H - 3, "text-anchor": "end", class: "muted" }, "now"));
  root.append(svg("text", { x: 4, y: 10, class: "muted" }, `max ${max}/min`));
  return root;
}

/** Totals over the window per outcome, for the legend. */
function activityTotals(series) {
  const totals = {};
  for (const o of series.outcomes) totals[o] = series.points.reduce((n, p) => n + (p.counts[o] || 0), 0);
  return totals;
}

window.kagiyaCharts = { timeline, budgetGauge, activityChart, activityTotals, outcomeClass };
