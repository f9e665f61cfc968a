"use strict";
// Every piece of manifest text goes into the page through textContent or
// append(string) (a text node); nothing here assigns innerHTML.
(function () {
  const DATA = JSON.parse(document.getElementById("roboz-data").textContent);
  const TOKENS = DATA.tokens;
  const PAGE_SIZE = DATA.page_size;
  const byId = new Map(TOKENS.map((t) => [t.id, t]));
  for (const t of TOKENS) t.haystack = (t.name + "\n" + t.prompt).toLowerCase();
  const state = { filters: {}, search: "", sort: "id", page: 0 };
  let visible = TOKENS;
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = String(v);
      else if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, String(v));
    }
    for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
    return e;
  }

  // ---- filtering, sorting, paging -------------------------------------------------
  function apply() {
    const q = state.search.trim().toLowerCase();
    const active = Object.entries(state.filters).filter(([, v]) => v !== "");
    let out = TOKENS.filter((t) => active.every(([c, v]) => t.traits[c] === v)
      && (!q || String(t.id) === q.replace(/^#/, "") || t.haystack.includes(q)));
    if (state.sort !== "id") {
      const dir = state.sort === "rarity" ? 1 : -1;
      const key = (t) => (t.rank === null ? Infinity : t.rank);
      out = out.slice().sort((a, b) => (key(a) === key(b) ? a.id - b.id : (key(a) < key(b) ? -dir : dir)));
    }
    visible = out;
    state.page = 0;
    render();
  }

  function pages() { return Math.max(1, Math.ceil(visible.length / PAGE_SIZE)); }

  function card(t) {
    const src = t.thumb || t.image;
    const media = src
      ? el("img", { src: src, alt: t.name, loading: "lazy", decoding: "async" })
      : el("div", { class: "placeholder", text: "not rendered" });
    return el("article", { class: "card", "data-id": t.id, tabindex: 0 },
      media,
      el("div", { class: "meta" },
        el("span", { class: "id", text: "#" + t.id }),
        el("span", { class: "rank", text: t.rank === null ? "" : "rank " + t.rank })),
      el("div", { class: "name", title: t.name, text: t.name }));
  }

  function pager(box) {
    const n = pages();
    box.replaceChildren(
      el("button", { type: "button", disabled: state.page === 0, onclick: () => go(state.page - 1) }, "‹ prev"),
      el("span", { class: "page", text: "page " + (state.page + 1) + " of " + n }),
      el("button", { type: "button", disabled: state.page >= n - 1, onclick: () => go(state.page + 1) }, "next ›"));
  }

  function go(page) {
    state.page = Math.min(Math.max(0, page), pages() - 1);
    render();
    $("grid").scrollIntoView({ block: "start" });
  }

  function render() {
    const frag = document.createDocumentFragment();
    for (const t of visible.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE)) frag.append(card(t));
    $("grid").replaceChildren(frag);
    $("count").textContent = visible.length + " of " + TOKENS.length + " tokens";
    pager($("pager-top"));
    pager($("pager-bottom"));
  }

  // ---- controls --------------------------------------------------------------------
  function buildFilters() {
    const box = $("filters");
    for (const cat of DATA.categories) {
      const counts = new Map();
      for (const t of TOKENS) if (cat in t.traits) counts.set(t.traits[cat], (counts.get(t.traits[cat]) || 0) + 1);
      const sel = el("select", { "data-category": cat, onchange: (e) => { state.filters[cat] = e.target.value; apply(); } },
        el("option", { value: "", text: "all" }));
      for (const v of [...counts.keys()].sort((a, b) => a.localeCompare(b))) {
        const o = el("option", { text: v + " (" + counts.get(v) + ")" });
        o.value = v;
        sel.append(o);
      }
      box.append(el("label", {}, cat, sel));
    }
    $("search").addEventListener("input", (e) => { state.search = e.target.value; apply(); });
    $("sort").addEventListener("change", (e) => { state.sort = e.target.value; apply(); });
    $("reset").addEventListener("click", () => {
      state.filters = {}; state.search = ""; state.sort = "id";
      for (const s of box.querySelectorAll("select")) s.value = "";
      $("search").value = ""; $("sort").value = "id";
      apply();
    });
    if (!DATA.rarity.available) {
      for (const o of $("sort").querySelectorAll("option[value^=rarity]")) { o.disabled = true; o.title = DATA.rarity.hint; }
    }
    $("grid").addEventListener("click", (e) => {
      const c = e.target.closest(".card");
      if (c) openToken(Number(c.dataset.id));
    });
    $("grid").addEventListener("keydown", (e) => {
      const c = e.target.closest(".card");
      if (c && e.key === "Enter") openToken(Number(c.dataset.id));
    });
  }

  function tokenLink(t) {
    return el("button", { type: "button", class: "linkish", onclick: () => openToken(t.id) },
      "#" + t.id + " " + t.name + (t.rank === null ? "" : " (rank " + t.rank + ")"));
  }

  function buildRarity() {
    const r = DATA.rarity;
    const body = $("rarity-body");
    $("rarity").querySelector("summary").textContent = r.available ? "Rarity (" + r.method + ")" : "Rarity (not computed yet)";
    if (r.available) {
      for (const [title, ids] of [["Rarest", r.rarest], ["Most common", r.commonest]]) {
        body.append(el("div", {}, el("strong", { text: title }),
          el("ol", {}, ...ids.map((id) => el("li", {}, tokenLink(byId.get(id)))))));
      }
    } else {
      body.append(el("p", { class: "hint", text: r.hint }));
    }
    for (const [cat, vals] of Object.entries(r.trait_counts)) {
      body.append(el("table", {},
        el("thead", {}, el("tr", {}, el("th", { text: cat }), el("th", { text: "count" }), el("th", { text: "%" }))),
        el("tbody", {}, ...vals.map(([v, n]) => el("tr", {},
          el("td", { text: v }), el("td", { class: "n", text: n }),
          el("td", { class: "n", text: (100 * n / Math.max(1, TOKENS.length)).toFixed(1) }))))));
    }
  }

  // ---- detail view -----------------------------------------------------------------
  function openToken(id) { location.hash = "token-" + id; }

  function closeDetail() {
    $("detail").hidden = true;
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  }

  function step(delta) {
    const cur = currentId();
    const list = visible.length ? visible : TOKENS;
    const i = list.findIndex((t) => t.id === cur);
    const next = list[(i + delta + list.length) % list.length];
    if (next) openToken(next.id);
  }

  function currentId() {
    const m = /^#token-(\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : null;
  }

  function showDetail() {
    const t = byId.get(currentId());
    if (!t) { $("detail").hidden = true; return; }
    const facts = [
      ["id", "#" + t.id],
      ["rank", t.rank === null ? (DATA.rarity.available ? "unranked" : "not computed") : t.rank + " of " + TOKENS.length],
      ["score", t.score === null ? null : t.score.toPrecision(4)],
      ["seed", t.seed],
      ["special", t.special],
    ].filter(([, v]) => v !== null && v !== undefined);
    const parts = [
      el("h2", { id: "detail-name", text: t.name }),
      t.image ? el("img", { class: "full", src: t.image, alt: t.name }) : el("div", { class: "placeholder big", text: "not rendered yet" }),
      el("dl", {}, ...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])),
      el("h3", { text: "Prompt" }),
      el("pre", { class: "prompt", id: "detail-prompt", text: t.prompt }),
      el("h3", { text: "Attributes" }),
      el("table", { class: "attrs" }, el("tbody", {}, ...t.attributes.map((a) =>
        el("tr", {}, el("td", { text: a.trait_type === undefined ? "" : a.trait_type }),
          el("td", { text: a.value === undefined ? "" : a.value }))))),
    ];
    if (t.snapshots.length) {
      parts.push(el("h3", { text: "Snapshots" }), el("div", { class: "snaps", id: "detail-snapshots" },
        ...t.snapshots.map(([it, path]) => el("figure", {},
          el("img", { src: path, alt: "iteration " + it, loading: "lazy" }),
          el("figcaption", { text: "iteration " + it })))));
    }
    if (t.animation) {
      parts.push(el("h3", { text: "Progress" }), el("video", { id: "detail-video", src: t.animation, controls: "", preload: "metadata", loop: "" }));
    }
    $("detail-body").replaceChildren(...parts);
    $("detail").hidden = false;
    $("close").focus({ preventScroll: true });
  }

  $("close").addEventListener("click", closeDetail);
  $("prev").addEventListener("click", () => step(-1));
  $("next").addEventListener("click", () => step(1));
  $("detail").addEventListener("click", (e) => { if (e.target === $("detail")) closeDetail(); });
  document.addEventListener("keydown", (e) => {
    if ($("detail").hidden) return;
    if (e.key === "Escape") closeDetail();
    else if (e.key === "ArrowLeft") step(-1);
    else if (e.key === "ArrowRight") step(1);
  });
  window.addEventListener("hashchange", showDetail);

  $("title").textContent = DATA.collection.name;
  $("description").textContent = DATA.collection.description || "";
  buildFilters();
  buildRarity();
  apply();
  showDetail();
  document.body.dataset.ready = "true";
})();
