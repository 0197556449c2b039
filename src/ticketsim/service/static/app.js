// ticketsim web page: search, open, feedback. Ticket data is only ever put into the
// page with textContent (never innerHTML), so a ticket containing markup stays text.
"use strict";

const $ = (id) => document.getElementById(id);
let defaults = { default_k: 10, max_k: 100 };
let lastQueryId = null;

function apiKey() { return sessionStorage.getItem("ticketsim-api-key") || ""; }

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  const key = $("api-key").value || apiKey();
  if (key) { headers["X-API-Key"] = key; sessionStorage.setItem("ticketsim-api-key", key); }
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await res.json(); } catch (e) { data = { error: res.statusText }; }
  if (res.status === 401) { $("key-row").hidden = false; }
  if (!res.ok) { throw new Error((data && data.error) || ("HTTP " + res.status)); }
  return data;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) { e.textContent = String(text); }
  if (cls) { e.className = cls; }
  return e;
}

function say(text, isError) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

function filters() {
  const f = {};
  const split = (v) => v.split(",").map((s) => s.trim()).filter(Boolean);
  if ($("category").value.trim()) { f.category = split($("category").value); }
  if ($("status").value.trim()) { f.status = split($("status").value); }
  if ($("since").value) { f.created_from = $("since").value + "T00:00:00"; }
  if ($("until").value) { f.created_to = $("until").value + "T00:00:00"; }
  return Object.keys(f).length ? f : null;
}

// Dates for people: "3 Jan 2024" (and the time when it is not midnight), in the reader's locale.
function fmtDate(iso) {
  const d = new Date(String(iso));
  if (Number.isNaN(d.getTime())) { return String(iso); }
  const day = d.toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" });
  const midnight = d.getHours() === 0 && d.getMinutes() === 0;
  return midnight ? day : day + " " + d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

const FIXED = new Set(["id", "score", "probability", "label", "short_description", "category",
  "subcategory", "created", "keyword", "fused", "rerank"]);

// what each label is worth (measured precision / recall in words), from the search answer
function renderMeaning(meaning) {
  const list = $("labels-list");
  list.replaceChildren();
  $("labels-help").hidden = !meaning;
  if (!meaning) { return; }
  for (const [label, words] of Object.entries(meaning)) {
    const item = el("li", words);
    item.id = "meaning-" + label;
    list.append(item);
  }
}

// suggested routing for a pasted ticket: field -> {value, probability}
function renderRouting(routing) {
  const box = $("routing");
  box.replaceChildren();
  box.hidden = !routing || !Object.keys(routing).length;
  if (box.hidden) { return; }
  box.append(el("strong", "Suggested routing: "));
  Object.entries(routing).forEach(([field, s], i) => {
    if (i) { box.append(document.createTextNode(" · ")); }
    const item = el("span", `${field.replace("_", " ")} ${s.value} (${Math.round(s.probability * 100)}%)`,
      "route-" + field);
    item.title = "classifier probability";
    box.append(item);
  });
}

function renderHit(hit, meaning) {
  const box = el("article", null, "hit");
  box.dataset.id = hit.id;
  const title = el("h3");
  title.append(el("span", hit.id, "hit-id"), document.createTextNode(" "),
    el("span", hit.short_description, "hit-title"));
  box.append(title);
  const line = el("div", null, "scores");
  line.append(el("span", "score " + hit.score.toFixed(3), "hit-score"));
  if (hit.probability !== null && hit.probability !== undefined) {
    const prob = el("span", "p(duplicate) " + hit.probability.toFixed(2), "hit-probability");
    prob.title = "calibrated probability that this ticket is a duplicate (fitted on held-out " +
      "pairs; a ticket about the same issue that is not a duplicate has a low p and reads related)";
    line.append(document.createTextNode(" · "), prob);
  }
  if (hit.label) {
    const words = meaning && meaning[hit.label];
    const unmeasured = !words || words.includes(": not measured");
    const tag = el("span", hit.label + (unmeasured ? " (not measured)" : ""),
      "hit-label label-" + hit.label + (unmeasured ? " label-unmeasured" : ""));
    if (words) {
      tag.title = words;
      tag.tabIndex = 0;
      tag.setAttribute("aria-describedby", "meaning-" + hit.label);
    }
    line.append(document.createTextNode(" · "), tag);
  }
  box.append(line);
  const fields = el("div", null, "fields");
  const cat = [hit.category, hit.subcategory].filter(Boolean).join(" / ");
  if (cat) { fields.append(el("div", cat)); }
  if (hit.created) { fields.append(el("div", "created " + fmtDate(hit.created), "hit-created")); }
  for (const [key, value] of Object.entries(hit)) {
    if (FIXED.has(key) || value === null || value === "") { continue; }
    const row = el("div");
    row.append(el("strong", key + ": "), el("span", value, "field-" + key));
    fields.append(row);
  }
  box.append(fields);
  const actions = el("div", null, "feedback");
  const open = el("button", "Open");
  open.type = "button";
  open.addEventListener("click", () => openTicket(hit.id, box));
  actions.append(open);
  for (const [label, text] of [["duplicate", "Duplicate"], ["related", "Related"], ["not_related", "Not related"]]) {
    const b = el("button", text, "fb-" + label);
    b.type = "button";
    b.addEventListener("click", () => sendFeedback(hit.id, label, actions));
    actions.append(b);
  }
  box.append(actions);
  return box;
}

async function search(event) {
  event.preventDefault();
  const text = $("query").value.trim();
  const id = $("ticket-id").value.trim();
  const k = Math.max(1, Math.min(parseInt($("k").value || defaults.default_k, 10), defaults.max_k));
  const body = { k };
  if (text) { body.text = text; } else if (id) { body.ticket_id = id; } else {
    say("paste a ticket text or give a ticket id", true); return;
  }
  if ($("mode").value) { body.mode = $("mode").value; }
  const f = filters();
  if (f) { body.filters = f; }
  say("searching…");
  try {
    const out = await api("POST", "/search", body);
    lastQueryId = id || null;
    const results = $("results");
    parkDetail();
    renderMeaning(out.label_meaning);
    renderRouting(out.routing);
    results.replaceChildren(...out.hits.map((hit) => renderHit(hit, out.label_meaning)));
    const why = (out.notes || []).join("; ");
    say(out.hits.length ? `${out.hits.length} similar tickets (${out.mode})`
      : "no similar tickets" + (why ? ": " + why : ""));
  } catch (e) { say(e.message, true); }
}

// The detail panel lives under the hit it belongs to; it goes back to <main> before the
// results are replaced (it would be removed with them).
function parkDetail() {
  const detail = $("detail");
  detail.hidden = true;
  document.querySelector("main").append(detail);
}

async function openTicket(id, box) {
  try {
    const t = await api("GET", "/tickets/" + encodeURIComponent(id));
    $("detail-title").textContent = t.id + " " + (t.short_description || "");
    $("detail-text").textContent = t.text || t.description || "";
    const dl = $("detail-fields");
    dl.replaceChildren();
    for (const [key, value] of Object.entries(t)) {
      if (["id", "text", "short_description", "description"].includes(key) || value === null || value === "") { continue; }
      dl.append(el("dt", key), el("dd", key === "created" ? fmtDate(value) : value));
    }
    if (box) { box.append($("detail")); }
    $("detail").hidden = false;
  } catch (e) { say(e.message, true); }
}

async function sendFeedback(hitId, label, actions) {
  const a = lastQueryId || $("ticket-id").value.trim();
  if (!a) { say("give this ticket's id above to record feedback", true); $("ticket-id").focus(); return; }
  try {
    await api("POST", "/feedback", { a, b: hitId, label });
    actions.querySelectorAll(".done").forEach((n) => n.remove());
    actions.append(el("span", " recorded: " + label.replace("_", " "), "done"));
    say(`recorded ${a} ~ ${hitId}: ${label.replace("_", " ")}`);
  } catch (e) { say(e.message, true); }
}

async function init() {
  $("search-form").addEventListener("submit", search);
  $("detail-close").addEventListener("click", () => { $("detail").hidden = true; });
  $("key-row").hidden = true;  // shown only when the service answers 401 (a key is configured)
  try {
    const s = await api("GET", "/stats");
    defaults = s;
    $("k").value = s.default_k;
    $("k").max = s.max_k;
    $("stats").textContent = `${s.tickets} tickets · ${s.model} · ${s.backend}/${s.precision}`;
    $("champion").textContent = s.champion || `${s.mode} search (no evaluation yet)`;
  } catch (e) { if (!$("key-row").hidden) { say("this service needs an API key", true); } }
}

document.addEventListener("DOMContentLoaded", init);
