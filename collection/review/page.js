// The review page: reads api/state, sends decisions, starts the re-roll, polls until it is done.
// Data reaches the DOM only through textContent and attributes, never as HTML.
"use strict";

let state = null;
let polling = null;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k) e.append(k);
  return e;
}

async function call(path, body) {
  const opts = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, opts);
  const data = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

function setStatus(text, error) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.className = error ? "error" : "";
}

async function decide(id, decision, seed) {
  try {
    const body = { id, decision };
    if (seed !== undefined) body.seed = seed;
    show(await call("api/decision", body));
  } catch (e) { setStatus(e.message, true); }
}

async function apply() {
  try {
    show(await call("api/apply", {}));
    poll();
  } catch (e) { setStatus(e.message, true); }
}

function poll() {
  if (polling) return;
  polling = setInterval(async () => {
    try {
      const s = await call("api/state");
      show(s);
      if (!s.job.running) { clearInterval(polling); polling = null; }
    } catch (e) { setStatus(e.message, true); }
  }, 500);
}

function fmt(score) { return score === null || score === undefined ? "–" : Number(score).toFixed(3); }

function card(t) {
  const d = t.decision ? t.decision.decision : null;
  const busy = state.job.running;
  const art = t.image ? el("img", { class: "art", src: t.image, alt: t.name }) : el("div", { class: "missing", text: "not rendered" });
  const badge = el("span", { class: "badge", text: d === "pick" ? "pick " + t.decision.seed : (d || "undecided") });
  const meta = el("div", { class: "meta", text: `seed ${t.seed}` + (t.rerolls ? ` · re-rolled ${t.rerolls}×` : "") + ` · ${t.prompt}` });
  const keep = el("button", { class: "keep" + (d === "keep" ? " on" : ""), text: "Keep",
                             onclick: () => decide(t.id, d === "keep" ? null : "keep") });
  const reject = el("button", { class: "reject" + (d === "reject" ? " on" : ""), text: "Reject",
                               onclick: () => decide(t.id, d === "reject" ? null : "reject") });
  keep.disabled = reject.disabled = busy;
  const test = t.tiny ? el("div", { class: "test", text: "test render · tiny random-weight models" })
    : t.test_models ? el("div", { class: "test", text: "demo render · " + t.test_models }) : null;
  const body = el("div", { class: "body" }, test, el("div", { class: "title" }, el("span", { text: `#${t.id} ${t.name}` }), badge), meta,
                  el("div", { class: "actions" }, keep, reject));
  if (t.snapshots.length) {
    body.append(el("div", { class: "cands-label", text: "snapshots" }));
    const strip = el("div", { class: "cands snaps" });
    for (const sn of t.snapshots) {
      strip.append(el("div", { class: "cand", "data-iteration": String(sn.iteration) },
                      el("img", { src: sn.image, alt: `iteration ${sn.iteration}` }), el("div", { text: `it ${sn.iteration}` })));
    }
    if (t.image) strip.append(el("div", { class: "cand chosen" }, el("img", { src: t.image, alt: "final" }),
                                 el("div", { text: `it ${t.iterations} · final` })));
    body.append(strip);
  }
  if (t.candidates.length > 1) {
    body.append(el("div", { class: "cands-label", text: `candidates (judge: ${t.judge || "?"})` }));
    const strip = el("div", { class: "cands" });
    for (const c of t.candidates) {
      const chosen = c.seed === t.seed;
      const picked = d === "pick" && t.decision.seed === c.seed;
      const box = el("div", { class: "cand" + (chosen ? " chosen" : "") + (picked ? " picked" : ""), "data-seed": String(c.seed) },
                     c.image ? el("img", { src: c.image, alt: `seed ${c.seed}` }) : null,
                     el("div", { text: `seed ${c.seed}` }), el("div", { text: `score ${fmt(c.score)} · it ${c.stop_iteration}` }));
      if (!chosen) {
        const b = el("button", { class: "pick", text: picked ? "picked" : "pick this",
                                 onclick: () => decide(t.id, picked ? null : "pick", picked ? undefined : c.seed) });
        b.disabled = busy;
        box.append(b);
      } else box.append(el("div", { text: "chosen" }));
      strip.append(box);
    }
    body.append(strip);
  }
  return el("article", { class: "card" + (d ? " " + d : ""), "data-id": String(t.id) }, art, body);
}

function show(s) {
  state = s;
  document.getElementById("collection").textContent = s.collection;
  const n = { keep: 0, reject: 0, pick: 0 };
  for (const t of s.tokens) if (t.decision) n[t.decision.decision]++;
  document.getElementById("summary").textContent =
    `${s.tokens.length} tokens · ${n.keep} kept · ${n.reject} rejected · ${n.pick} picked`;
  const grid = document.getElementById("grid");
  grid.replaceChildren(...s.tokens.map(card));
  const apply = document.getElementById("apply");
  apply.disabled = s.job.running || n.reject + n.pick === 0;
  if (s.job.running) setStatus("re-rolling…");
  else if (s.job.returncode === 0) setStatus("done: " + s.job.output.trim().split("\n").filter((l) => /^token \d+: seed /.test(l)).join("; "));
  else if (s.job.returncode !== null) setStatus("re-roll failed:\n" + s.job.output.trim().split("\n").slice(-3).join("\n"), true);
  document.body.dataset.runs = String(s.job.runs);
  document.body.dataset.ready = "true";
}

document.getElementById("apply").addEventListener("click", apply);
call("api/state").then((s) => { show(s); if (s.job.running) poll(); }, (e) => setStatus(e.message, true));
