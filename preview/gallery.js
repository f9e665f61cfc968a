"use strict";
// Every piece of manifest text goes into the page through textContent or
// append(string) (a text node); nothing here assigns innerHTML.
(function () {
  const DATA = JSON.parse(document.getElementById("roboz-data").textContent);
  const TOKENS = DATA.tokens;
  const PAGE_SIZE = DATA.page_size;
  const STATUS = DATA.status;
  const LABELS = { test: "Test render", demo: "Demo render" };
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
      else if (k === "style") Object.assign(e.style, v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, String(v));
    }
    for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
    return e;
  }

  const pct = (x, digits) => (100 * x).toFixed(digits === undefined ? 1 : digits) + "%";
  // 1,234 by hand: toLocaleString's first call loads locale data (~40 ms at start-up)
  const num = (x) => (x === null || x === undefined ? "" : String(x).replace(/\B(?=(\d{3})+(?!\d))/g, ","));
  function ribbon(label, big) {
    return label ? el("div", { class: "ribbon" + (big ? " big" : ""), text: LABELS[label] || label }) : null;
  }
  // Small renders (a 64 px draft) are enlarged by nearest neighbour, so their pixels stay crisp.
  function crispWhenEnlarged(media) {
    const check = () => {
      const w = media.naturalWidth || media.videoWidth || 0;
      media.classList.toggle("pixelated", w > 0 && w < media.clientWidth);
    };
    media.addEventListener(media.tagName === "VIDEO" ? "loadedmetadata" : "load", check);
    return media;
  }
  // A link leaves the page only if the user configured a gateway (or for a public testnet's explorer).
  function ext(href, text) {
    return el("a", { href: href, target: "_blank", rel: "noopener noreferrer", text: text });
  }
  function gatewayLink(uriOrCid, path) {
    if (!STATUS.gateway) return null;
    const m = /^ipfs:\/\/([^/]+)\/?(.*)$/.exec(uriOrCid);
    const cid = m ? m[1] : uriOrCid;
    const rest = m ? m[2] : (path || "");
    return ext(STATUS.gateway + "/ipfs/" + cid + "/" + rest, "gateway ↗");
  }
  function tokenUri(id) {
    return STATUS.cids ? STATUS.cids.base_uri.replace(/\/?$/, "/") + id + ".json" : null;
  }
  function isMinted(id) {
    const m = STATUS.minted;
    return !!(m && m.first_id !== null && id >= m.first_id && id < m.first_id + m.count);
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
    const n = active.length;
    $("filter-toggle").textContent = n ? "Filters (" + n + ")" : "Filters";
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
      t.image ? ribbon(t.label) : null,
      t.special ? el("span", { class: "special", text: "1/1" }) : null,
      el("div", { class: "meta" },
        el("span", { class: "id", text: "#" + t.id }),
        el("span", { class: "rank", text: t.rank === null ? "" : "rank " + t.rank })),
      el("div", { class: "name", title: t.name, text: t.name }));
  }

  function pager(box) {
    const n = pages();
    if (n === 1) { box.replaceChildren(); return; }
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

  // ---- cover -------------------------------------------------------------------------
  function buildCover() {
    const c = DATA.collection;
    $("title").textContent = c.name;
    document.title = c.name;
    if (c.artist) $("artist").append("by ", el("b", { text: c.artist }));
    $("description").textContent = c.description || "";
    const wrap = $("banner-wrap");
    if (c.banner) wrap.append(el("img", { id: "banner", src: c.banner, alt: c.name + ": a strip of tokens", class: "pixelated" }));
    if (c.labels.length) {
      wrap.append(el("div", { class: "ribbon big", id: "cover-ribbon", text: c.labels.map((l) => LABELS[l] || l).join(" / ") }));
      const note = $("label-note");
      const why = {
        test: "made with random-weight test models: textures that exercise the pipeline, not the artwork.",
        demo: "made with the small demo models trained for this tool, not with the artist's models.",
      };
      for (const l of c.labels) note.append(el("div", {}, el("b", { text: (LABELS[l] || l).toUpperCase() }), " · these pictures are " + (why[l] || "not the final artwork.")));
      note.hidden = false;
    }
    if (c.image) {
      const img = crispWhenEnlarged($("cover-image"));
      img.src = c.image;
      img.alt = c.name;
      img.hidden = false;
    }
    const cats = DATA.categories.length;
    const values = DATA.shares.categories.reduce((n, x) => n + x.values.length, 0);
    const counts = [
      [num(TOKENS.length), "tokens"],
      [num(c.specials), c.specials === 1 ? "special (1/1)" : "specials (1/1s)"],
      [num(cats), cats === 1 ? "trait" : "traits", values ? num(values) + " values" : null],
    ];
    if (c.rendered !== TOKENS.length) counts.push([num(c.rendered), "rendered so far"]);
    if (STATUS.minted) counts.push([num(STATUS.minted.count), "minted on " + STATUS.minted.chain]);
    $("counts").replaceChildren(...counts.map(([n, what, extra]) =>
      el("li", {}, el("b", { text: n }), what + (extra ? " · " + extra : ""))));
  }

  function buildTraitChart() {
    const box = $("trait-chart");
    for (const cat of DATA.shares.categories) {
      const rows = cat.values.map(([value, count, planned, expected]) => {
        const track = el("div", { class: "track" }, el("div", { class: "fill", style: { width: pct(planned, 2) } }));
        if (expected !== null) track.append(el("div", { class: "tick", style: { left: pct(expected, 2) } }));
        const tip = value + ": " + count + " of " + cat.base + " (" + pct(planned) + ")"
          + (expected === null ? "" : ", expected " + pct(expected));
        return el("div", { class: "bar-row", title: tip, "data-value": value, "data-planned": planned, "data-expected": expected === null ? "" : expected },
          el("span", { class: "v", text: value }), track, el("span", { class: "pct", text: pct(planned, 0) }));
      });
      box.append(el("div", { class: "chart-cat" },
        el("h4", {}, cat.category + " ", el("span", { text: "· " + cat.values.length + " values" })), ...rows));
    }
    const note = $("trait-note");
    if (!DATA.shares.expected && DATA.shares.categories.length) {
      note.textContent = "This plan.json was written before plans kept expected shares; run `roboz-collection plan` again to see them.";
      note.hidden = false;
    } else if (DATA.shares.expected) {
      note.textContent = "Shares of the tokens drawn from traits (specials apart); expected shares as planned from the manifest's weights and counts (plan.json).";
      note.hidden = false;
    }
    if (!DATA.shares.categories.length) $("traits").hidden = true;
  }

  function buildStatus() {
    const box = $("status");
    const c = STATUS.cids;
    const ipfs = el("div", { class: "card-panel", id: "status-ipfs" });
    let head, dot;
    if (!c) { head = "IPFS · not published"; dot = ""; }
    else if (c.source === "cids.json") { head = "IPFS · CIDs computed, not uploaded yet"; dot = "half"; }
    else if (c.pinned_by.length) { head = "IPFS · published on " + c.pinned_by.join(", "); dot = "ok"; }
    else { head = "IPFS · CAR files written (not on a node yet)"; dot = "half"; }
    ipfs.append(el("div", { class: "status-head" }, el("span", { class: "dot " + dot }), head));
    if (c) {
      const rows = [["images", c.images], ["animations", c.animations], ["metadata", c.metadata]]
        .filter(([, v]) => v)
        .map(([k, v]) => [k + " CID", v, gatewayLink(v, "")]);
      rows.push(["base URI", c.base_uri, gatewayLink(c.base_uri)], ["contractURI", c.contract_uri, gatewayLink(c.contract_uri)]);
      if (c.uploaded_at) rows.push(["uploaded", c.uploaded_at, null]);
      ipfs.append(el("dl", { class: "kv" }, ...rows.flatMap(([k, v, link]) =>
        [el("dt", { text: k }), el("dd", {}, el("code", { text: v }), link)])));
      if (!STATUS.gateway) ipfs.append(el("p", { class: "muted", text: "No gateway links: none is configured (preview --gateway URL, or ROBOZ_IPFS_GATEWAY)." }));
      if (c.source === "cids.json") ipfs.append(el("p", { class: "hint", text: "run `roboz-collection publish BUILD --to kubo|pinata` to upload them" }));
    } else {
      ipfs.append(el("p", { class: "muted", text: "run `roboz-collection metadata` to compute the CIDs, then `publish` to upload them" }));
    }
    const m = STATUS.minted;
    const chain = el("div", { class: "card-panel", id: "status-chain" });
    if (!m) {
      chain.append(el("div", { class: "status-head" }, el("span", { class: "dot" }), "Chain · not minted"),
        el("p", { class: "muted", text: "run `roboz-collection mint BUILD --network local|sepolia`" }));
    } else {
      const ok = m.verified === true;
      chain.append(el("div", { class: "status-head" }, el("span", { class: "dot " + (ok ? "ok" : "half") }),
        "Chain · " + (m.count ? "minted on " : "deploying on ") + m.chain));
      const addr = m.contract
        ? el("dd", {}, el("code", { id: "contract-address", text: m.contract }), m.explorer ? ext(m.explorer + "/address/" + m.contract, "explorer ↗") : null)
        : el("dd", { class: "muted", text: "not deployed yet" });
      const rows = [
        el("dt", { text: "chain" }), el("dd", { text: m.chain + " (chain id " + m.chain_id + ")" }),
        el("dt", { text: "contract" }), addr,
        el("dt", { text: "minted" }), el("dd", { text: m.count ? m.count + " of " + TOKENS.length + " tokens (ids " + m.first_id + "–" + (m.first_id + m.count - 1) + ")" : "none yet" }),
        el("dt", { text: "verified" }), el("dd", { text: m.verified === null ? "not yet" : (ok ? "yes: every tokenURI, royalties, interfaces, provenance read back from the chain" : "NO: " + m.problems.join("; ")) }),
      ];
      if (c) rows.push(el("dt", { text: "tokenURI" }), el("dd", {}, el("code", { text: c.base_uri.replace(/\/?$/, "/") + "{id}.json" })));
      chain.append(el("dl", { class: "kv" }, ...rows));
    }
    const s = STATUS.sale;   // a drop: sale.json as the chain was at the last sale/reveal/withdraw
    if (s) {
      const sale = el("div", { class: "card-panel", id: "status-sale" });
      sale.append(el("div", { class: "status-head" }, el("span", { class: "dot " + (s.current === "not open yet" ? "half" : "ok") }),
        "Drop · " + s.current + (s.paused ? " (paused)" : "") + " on " + s.chain_name));
      const rows = [
        el("dt", { text: "contract" }), el("dd", {}, el("code", { text: s.contract }), s.explorer ? ext(s.explorer + "/address/" + s.contract, "explorer ↗") : null),
        el("dt", { text: "minted" }), el("dd", { id: "sale-minted", text: s.minted + " of " + s.max_supply + ", " + s.remaining + " remaining" }),
      ];
      for (const p of s.phases) {
        rows.push(el("dt", { text: "phase " + p.name }), el("dd", { class: "sale-phase",
          text: "from " + p.start + ", " + p.price_eth + " ETH, " + p.kind + ", " + p.per_wallet + " per wallet" +
            (p.supply ? ", " + p.supply + " at most" : "") + "; " + p.minted + " minted" }));
      }
      rows.push(el("dt", { text: "reveal" }), el("dd", { id: "sale-reveal", text: !s.fair_reveal ? "none: every token shows its picture"
          : (s.revealed ? "revealed (offset " + s.offset + ")" : "not yet: tokens show the placeholder") }),
        el("dt", { text: "proceeds" }), el("dd", { text: s.proceeds_eth + " ETH held, " + s.withdrawn_eth + " ETH withdrawn to " + s.payout }));
      if (s.read_at) rows.push(el("dt", { text: "read" }), el("dd", { class: "muted", text: s.read_at }));
      sale.append(el("dl", { class: "kv" }, ...rows));
      box.append(ipfs, chain, sale);
      return;
    }
    box.append(ipfs, chain);
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
    $("filter-toggle").addEventListener("click", () => {
      const open = $("controls").classList.toggle("open");
      $("filter-toggle").setAttribute("aria-expanded", String(open));
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

  const TRAIT_COUNTS = new Map();
  function buildRarity() {
    const r = DATA.rarity;
    for (const [cat, vals] of Object.entries(r.trait_counts)) TRAIT_COUNTS.set(cat, new Map(vals));
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
  }

  // ---- detail view -----------------------------------------------------------------
  function openToken(id) { location.hash = "token-" + id; }

  function closeDetail() {
    $("detail").hidden = true;
    document.body.classList.remove("modal-open");
    for (const v of $("detail-body").querySelectorAll("video")) v.pause();
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

  function fmtScore(x) { return x === null || x === undefined ? null : Number(x).toPrecision(4); }

  function figure(cls, src, alt, label, lines, empty) {
    const box = el("div", { class: "box" },
      src ? crispWhenEnlarged(el("img", { src: src, alt: alt, loading: "lazy" })) : el("div", { class: "placeholder", text: empty }),
      src ? ribbon(label) : null);
    return el("figure", { class: "snap " + cls + (src ? " zoomable" : ""), "data-src": src, "data-caption": lines[0],
      title: src ? "show it large" : null }, box,
      el("figcaption", {}, el("span", { class: "it", text: lines[0] }),
        ...lines.slice(1).filter((x) => x).map((x) => el("span", { class: "sub", text: x }))));
  }

  // Snapshots, then the final picture (unless the last snapshot is it), side by side.
  function snapshotFigures(t) {
    const figs = t.snapshots.map(([it, path], k) => {
      const last = t.final_is_last && k === t.snapshots.length - 1;
      return figure(last ? "final" : "", path, "iteration " + it, t.label,
        ["iteration " + it + (last ? " · final" : ""), "seed " + t.seed, last && t.judge !== undefined ? "score " + fmtScore(t.judge) : null]);
    });
    if (!t.final_is_last) {
      figs.push(figure("final", t.image, "final", t.label,
        ["final" + (t.iterations ? " · iteration " + t.iterations : ""), "seed " + t.seed, t.judge !== undefined ? "score " + fmtScore(t.judge) : null],
        "not rendered yet"));
    }
    return figs;
  }

  function candidateFigures(t) {
    return (t.candidates || []).map(([seed, score, stop, image, chosen]) => figure(chosen ? "chosen" : "", image, "seed " + seed, t.label,
      [(chosen ? "chosen · " : "") + "seed " + seed, score === null ? "not scored" : "score " + fmtScore(score),
        stop === null ? null : "stopped at iteration " + stop], "picture not kept"));
  }

  function weightsList(t) {
    const max = Math.max(1e-9, ...t.parts.map((p) => Math.abs(p[1] || 0)));
    return el("ol", { class: "weights", id: "detail-weights" }, ...t.parts.map(([text, w, stop]) => {
      const neg = w !== null && w < 0;
      return el("li", {},
        el("span", { class: "t", text: text }),
        el("span", { class: "w" + (neg ? " neg" : ""), title: stop === null ? "weight" : "weight, stop " + stop,
          text: (w === null ? "?" : String(w)) + (stop === null ? "" : " · stop " + stop) }),
        el("span", { class: "wbar" + (neg ? " neg" : ""), style: { width: pct(Math.abs(w || 0) / max, 1) } }));
    }));
  }

  function attributesTable(t) {
    return el("table", { class: "attrs" }, el("tbody", {}, ...t.attributes.map((a) => {
      const type = a.trait_type === undefined ? "" : a.trait_type;
      const value = a.value === undefined ? "" : a.value;
      const n = TRAIT_COUNTS.has(type) ? TRAIT_COUNTS.get(type).get(String(value)) : undefined;
      const rar = n === undefined ? el("td", { class: "rar" })
        : el("td", { class: "rar", title: n + " of " + TOKENS.length + " tokens have it" },
          n + " · " + pct(n / Math.max(1, TOKENS.length)),
          el("span", { class: "rbar", style: { width: pct(n / Math.max(1, TOKENS.length), 1) } }));
      return el("tr", {}, el("td", { text: type }), el("td", { class: "val", text: value }), rar);
    })));
  }

  function chainFacts(t) {
    const c = STATUS.cids, m = STATUS.minted;
    if (!c && !m) return null;
    const rows = [];
    const uri = tokenUri(t.id);
    if (uri) rows.push(el("dt", { text: "tokenURI" }), el("dd", {}, el("code", { id: "detail-token-uri", text: uri }), gatewayLink(uri)));
    if (c && t.image) rows.push(el("dt", { text: "image" }), el("dd", {}, el("code", { text: "ipfs://" + c.images + "/" + t.id + ".png" }), gatewayLink(c.images, t.id + ".png")));
    if (m) {
      const minted = isMinted(t.id);
      rows.push(el("dt", { text: "minted" }), el("dd", { id: "detail-minted" },
        minted ? "yes, on " + m.chain : "not yet",
        minted && m.explorer && m.contract ? ext(m.explorer + "/nft/" + m.contract + "/" + t.id, "explorer ↗") : null));
    }
    return [el("h3", { text: "On chain" }), el("dl", { class: "kv", id: "detail-chain" }, ...rows)];
  }

  function showDetail() {
    const t = byId.get(currentId());
    if (!t) { $("detail").hidden = true; document.body.classList.remove("modal-open"); return; }
    const facts = [
      ["id", "#" + t.id],
      ["rank", t.rank === null ? (DATA.rarity.available ? "unranked" : "not computed") : t.rank + " of " + TOKENS.length],
      ["rarity score", t.score === null ? null : t.score.toPrecision(4)],
      ["seed", t.seed],
      ["iterations", t.iterations || null],
      ["judge score", t.judge === undefined ? null : fmtScore(t.judge)],
      ["special", t.special],
    ].filter(([, v]) => v !== null && v !== undefined);

    const main = el("div", { class: "media-box", id: "detail-image-box" },
      t.image ? crispWhenEnlarged(el("img", { class: "full", id: "detail-image", src: t.image, alt: t.name }))
        : el("div", { class: "placeholder big", text: "not rendered yet" }),
      t.image ? ribbon(t.label, true) : null);
    const media = el("div", { class: "media" }, main,
      t.image ? el("p", { class: "media-caption", id: "detail-showing", text: "showing the final image" }) : null);
    const img = main.querySelector("img");
    if (img && t.animation) {
      // the video's poster is the same small picture: enlarge it the same way
      img.addEventListener("load", () => { const v = $("detail-video"); if (v && img.classList.contains("pixelated")) v.classList.add("pixelated"); });
    }
    if (t.animation) {
      // Same box as the picture; the final image is its poster frame.
      media.append(el("h3", { text: "Progress" }),
        el("div", { class: "media-box video-box" },
          crispWhenEnlarged(el("video", { id: "detail-video", src: t.animation, controls: "", preload: "metadata", loop: "",
            playsinline: "", poster: t.image || null }))));
    }
    const badges = el("div", { class: "badges" },
      t.label ? el("span", { class: "badge warn", text: (LABELS[t.label] || t.label).toUpperCase() }) : null,
      t.special ? el("span", { class: "badge acc", text: "1/1 · " + t.special }) : null,
      t.rank !== null ? el("span", { class: "badge", text: "rank " + t.rank }) : null);
    const info = el("div", { class: "info" },
      el("h2", { id: "detail-name", text: t.name }), badges,
      el("dl", { class: "kv" }, ...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])),
      el("h3", { text: "Prompt" }),
      weightsList(t),
      el("details", { class: "raw" }, el("summary", { text: "as written" }), el("pre", { class: "prompt", id: "detail-prompt", text: t.prompt })),
      el("h3", { text: "Attributes" }),
      attributesTable(t),
      ...(chainFacts(t) || []));
    const parts = [el("div", { class: "detail-grid" }, media, info)];
    if (t.snapshots.length || (t.candidates && t.candidates.length)) {
      parts.push(el("h3", { text: "Snapshots" }), el("div", { class: "compare-row", id: "detail-snapshots" }, ...snapshotFigures(t)));
    }
    if (t.candidates && t.candidates.length) {
      parts.push(el("h3", { text: "Candidates · best of " + t.candidates.length + (t.judge_by ? " · judged by " + t.judge_by : "") }),
        el("div", { class: "compare-row", id: "detail-candidates" }, ...candidateFigures(t)));
    }
    const list = visible.length ? visible : TOKENS;
    const pos = list.findIndex((x) => x.id === t.id);
    $("detail-pos").replaceChildren(pos >= 0 ? (pos + 1) + " of " + list.length : "",
      el("span", { class: "keys", text: (pos >= 0 ? " · " : "") + "← → to browse, Esc to close" }));
    $("detail-body").replaceChildren(...parts);
    if (img) {
      // a snapshot or candidate clicked takes the big box, to compare at full size
      for (const row of $("detail-body").querySelectorAll(".compare-row")) {
        row.addEventListener("click", (e) => {
          const fig = e.target.closest("figure.zoomable");
          if (!fig) return;
          img.src = fig.dataset.src;
          for (const f of $("detail-body").querySelectorAll("figure.active")) f.classList.remove("active");
          fig.classList.add("active");
          $("detail-showing").textContent = "showing " + fig.dataset.caption;
          $("detail-image-box").scrollIntoView({ block: "nearest" });
        });
      }
    }
    $("detail").hidden = false;
    $("detail").scrollTop = 0;
    document.body.classList.add("modal-open");
    $("close").focus({ preventScroll: true });
  }

  $("close").addEventListener("click", closeDetail);
  $("prev").addEventListener("click", () => step(-1));
  $("next").addEventListener("click", () => step(1));
  document.addEventListener("keydown", (e) => {
    if ($("detail").hidden) return;
    if (e.key === "Escape") { closeDetail(); return; }
    // a focused video keeps its own arrow keys (seeking)
    if (e.target && e.target.closest && e.target.closest("video, input, select, textarea")) return;
    if (e.key === "ArrowLeft") step(-1);
    else if (e.key === "ArrowRight") step(1);
  });
  window.addEventListener("hashchange", showDetail);

  buildCover();
  buildStatus();
  buildTraitChart();
  buildFilters();
  buildRarity();
  apply();
  showDetail();
  document.body.dataset.readyMs = Math.round(performance.now());  // for benchmarks/preview.py
  document.body.dataset.ready = "true";
})();
