// The mint page: reads the sale from the contract, connects a browser wallet, mints.
// Every byte of ABI encoding and decoding goes through viem (vendor/viem.min.js, RobozViem).
// Data from drop.json is shown with textContent only, never parsed as HTML.
"use strict";
(() => {
  const V = globalThis.RobozViem;
  const drop = JSON.parse(document.getElementById("drop").textContent);
  const $ = (id) => document.getElementById(id);
  const ZERO_ROOT = "0x" + "0".repeat(64);
  const REFRESH_MS = 15000;

  const chain = V.defineChain({
    id: drop.chain.id,
    name: drop.chain.name,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: drop.chain.rpc_url ? [drop.chain.rpc_url] : [] } },
  });
  const chainHex = V.numberToHex(drop.chain.id);

  let started = false;     // the first read has begun (announcements come before it, synchronously)
  let refreshing = null;   // the read in flight: one at a time
  const state = {
    wallets: [],        // [{info, provider}] from EIP-6963 announcements (or window.ethereum)
    wallet: null,       // the one the collector picked
    account: null,
    onChain: false,     // the wallet is on the drop's chain
    sale: null,         // the last read of the contract (see readSale)
    readAt: 0,          // Date.now() when `sale` was read: the block time advances from there
    busy: false,
    reads: 0,
  };

  // ------------------------------------------------------------------ small helpers

  const same = (a, b) => typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
  const eth = (wei) => `${V.formatEther(wei)} ETH`;
  const text = (id, s) => { $(id).textContent = s; };

  function utc(seconds) {
    return new Date(Number(seconds) * 1000).toISOString().replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC");
  }

  function duration(seconds) {
    let s = Math.max(0, Math.floor(seconds));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    const hms = [h, m, s].map((x) => String(x).padStart(2, "0")).join(":");
    return d ? `${d}d ${hms}` : hms;
  }

  function message(s, kind) {
    const el = $("message");
    el.hidden = !s;
    el.textContent = s || "";
    el.className = "message" + (kind ? " " + kind : "");
  }

  // The chain's clock, not the computer's: a sale follows block timestamps.
  function chainNow() {
    if (!state.sale) return null;
    return Number(state.sale.blockTime) + (Date.now() - state.readAt) / 1000;
  }

  // The phase running at `now`: the last one whose start has passed (phases start in order).
  function phaseIndexAt(phases, now) {
    let index = -1;
    phases.forEach((p, i) => { if (now >= Number(p.start)) index = i; });
    return index;
  }

  // ------------------------------------------------------------------ allowlist proof

  // OpenZeppelin StandardMerkleTree ("standard-v1"): leaf = keccak256(keccak256(abi.encode(values))),
  // the tree an array with the root at 0; a proof is the siblings on the way up.
  function leafHash(tree, value) {
    const types = tree.leafEncoding.map((type) => ({ type }));
    const values = value.map((v, i) => (tree.leafEncoding[i].startsWith("uint") ? BigInt(v) : v));
    return V.keccak256(V.keccak256(V.encodeAbiParameters(types, values)));
  }

  function hashPair(a, b) {
    return BigInt(a) < BigInt(b) ? V.keccak256(V.concat([a, b])) : V.keccak256(V.concat([b, a]));
  }

  // {allowance, proof} for `account` in an allowlist phase's tree, or null when it is not listed.
  // The proof is checked against the root here too: a tree that does not add up is never sent.
  function allowlistEntry(tree, account) {
    if (!tree) return null;
    const entry = tree.values.find((v) => same(v.value[0], account));
    if (!entry) return null;
    let index = entry.treeIndex;
    const leaf = leafHash(tree, entry.value);
    if (!same(leaf, tree.tree[index])) throw new Error("the published allowlist does not match its own leaves");
    const proof = [];
    while (index > 0) {
      proof.push(tree.tree[index % 2 === 1 ? index + 1 : index - 1]);
      index = Math.floor((index - 1) / 2);
    }
    if (!same(proof.reduce(hashPair, leaf), tree.tree[0])) throw new Error("the published allowlist proof does not reach its root");
    return { allowance: BigInt(entry.value[1]), proof };
  }

  // ------------------------------------------------------------------ contract errors in plain words

  function revertData(err) {
    const seen = new Set();
    for (let e = err; e && typeof e === "object" && !seen.has(e); e = e.cause) {
      seen.add(e);
      for (const d of [e.data, e.data && e.data.data, e.error && e.error.data]) {
        if (typeof d === "string" && /^0x[0-9a-fA-F]{8}/.test(d)) return d;
      }
    }
    return null;
  }

  function errorCode(err) {
    const seen = new Set();
    for (let e = err; e && typeof e === "object" && !seen.has(e); e = e.cause) {
      seen.add(e);
      if (typeof e.code === "number" && e.code !== 3 && e.code !== -32603) return e.code;
    }
    return null;
  }

  // A sentence may name an error's arguments as {name}; wei amounts are shown in ETH.
  function fillSentence(sentence, abiError, args) {
    const named = {};
    (abiError ? abiError.inputs : []).forEach((input, i) => { named[input.name] = args[i]; });
    return sentence.replace(/\{(\w+)\}/g, (all, key) => {
      if (!(key in named)) return all;
      const v = named[key];
      return /expected|sent|price|amount|value/i.test(key) ? eth(v) : String(v);
    });
  }

  function explain(err) {
    const data = revertData(err);
    if (data) {
      try {
        const { abiItem, args, errorName } = V.decodeErrorResult({ abi: drop.abi, data });
        const sentence = drop.errors[errorName];
        if (sentence) return fillSentence(sentence, abiItem, args || []);
        if (errorName === "Error" && args && args[0]) return `The contract refused the mint: ${args[0]}.`;
        return `The contract refused the mint (${errorName}).`;
      } catch (_) { /* not one of this contract's errors: fall through */ }
    }
    const code = errorCode(err);
    if (code === 4001) return "You declined the request in your wallet.";
    if (code === 4100) return "Your wallet did not allow this page to use the account: connect again.";
    if (code === -32002) return "Your wallet already has a request waiting: open the wallet to answer it.";
    const msg = String((err && (err.shortMessage || err.message)) || err);
    if (/insufficient funds/i.test(msg)) return "This wallet does not hold enough ETH for the price and the gas.";
    return msg.split("\n")[0];
  }

  // ------------------------------------------------------------------ wallets (EIP-6963, then window.ethereum)

  window.addEventListener("eip6963:announceProvider", (event) => {
    const d = event.detail;
    if (!d || !d.info || !d.provider || typeof d.provider.request !== "function") return;
    if (state.wallets.some((w) => w.info.uuid === d.info.uuid)) return;
    state.wallets.push({ info: d.info, provider: d.provider });
    // a wallet announced after the first read can show the live sale where nothing could
    if (started && !state.sale) refresh();
  });
  window.dispatchEvent(new Event("eip6963:requestProvider"));

  function knownWallets() {
    if (state.wallets.length) return state.wallets;
    if (window.ethereum && typeof window.ethereum.request === "function") {
      return [{ info: { uuid: "window.ethereum", name: "Browser wallet", icon: "" }, provider: window.ethereum }];
    }
    return [];
  }

  function walletClient() {
    return V.createClient({ chain, account: state.account, transport: V.custom(state.wallet.provider), pollingInterval: 1000 });
  }

  async function chainIdOf(provider) {
    return Number(BigInt(await provider.request({ method: "eth_chainId" })));
  }

  async function readClient() {
    // The collector's wallet when it is on the drop's chain; else a local chain's own RPC URL.
    const candidates = state.wallet ? [state.wallet] : knownWallets();
    for (const w of candidates) {
      try {
        if ((await chainIdOf(w.provider)) === drop.chain.id) {
          return { client: V.createClient({ chain, transport: V.custom(w.provider) }), via: w.info.name };
        }
      } catch (_) { /* a wallet that will not answer: try the next */ }
    }
    if (drop.chain.rpc_url) return { client: V.createClient({ chain, transport: V.http(drop.chain.rpc_url) }), via: "the local chain" };
    return null;
  }

  function onConnectClick() {
    const wallets = knownWallets();
    if (!wallets.length) {
      message("No browser wallet found. Install one (for example a browser extension wallet) and reload this page.", "error");
      return;
    }
    if (wallets.length === 1) return connect(wallets[0]);
    const box = $("wallets");
    box.replaceChildren();
    for (const w of wallets) {
      const b = document.createElement("button");
      b.type = "button";
      if (typeof w.info.icon === "string" && w.info.icon.startsWith("data:image/")) {
        const img = document.createElement("img");
        img.src = w.info.icon;
        img.alt = "";
        b.append(img);
      }
      b.append(String(w.info.name || "Wallet"));
      b.addEventListener("click", () => { box.hidden = true; connect(w); });
      box.append(b);
    }
    box.hidden = false;
  }

  async function connect(wallet) {
    try {
      message("Waiting for your wallet…");
      const accounts = await wallet.provider.request({ method: "eth_requestAccounts" });
      if (!accounts || !accounts.length) throw new Error("The wallet shared no account.");
      state.wallet = wallet;
      state.account = V.getAddress(accounts[0]);
      if (typeof wallet.provider.on === "function") {
        wallet.provider.on("accountsChanged", (a) => { state.account = a && a.length ? V.getAddress(a[0]) : null; refresh(); });
        wallet.provider.on("chainChanged", (id) => { state.onChain = Number(BigInt(id)) === drop.chain.id; refresh(); });
      }
      message("");
      await ensureChain();
    } catch (err) {
      message(explain(err), "error");
    }
    await refresh();
  }

  async function ensureChain() {
    state.onChain = (await chainIdOf(state.wallet.provider)) === drop.chain.id;
    if (state.onChain) return;
    try {
      await state.wallet.provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: chainHex }] });
    } catch (err) {
      // 4902: the wallet does not know the chain. A local chain can be added with its RPC URL.
      if (errorCode(err) === 4902 && drop.chain.rpc_url) {
        await state.wallet.provider.request({
          method: "wallet_addEthereumChain",
          params: [{ chainId: chainHex, chainName: drop.chain.name, rpcUrls: [drop.chain.rpc_url],
                     nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 } }],
        });
        await state.wallet.provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: chainHex }] });
      } else {
        message(`Switch your wallet to ${drop.chain.name} to mint. ${explain(err)}`, "error");
      }
    }
    state.onChain = (await chainIdOf(state.wallet.provider)) === drop.chain.id;
  }

  // ------------------------------------------------------------------ reading the sale

  function call(client, functionName, args) {
    return V.readContract(client, { address: drop.contract, abi: drop.abi, functionName, args: args || [] });
  }

  async function readSale(client) {
    const [block, totalMinted, maxSupply, paused, count] = await Promise.all([
      V.getBlock(client, { blockTag: "latest" }),
      call(client, "totalMinted"),
      call(client, "maxSupply"),
      call(client, "paused"),
      call(client, "phaseCount"),
    ]);
    const phases = await Promise.all(Array.from({ length: Number(count) }, (_, i) =>
      call(client, "phaseAt", [BigInt(i)]).then(([p, minted]) => ({
        name: drop.phases[i] ? drop.phases[i].name : `phase ${i + 1}`,
        start: p.start, price: p.price, perWallet: p.perWallet, supply: p.supply, merkleRoot: p.merkleRoot,
        minted, tree: drop.phases[i] ? drop.phases[i].tree : null,
      }))));
    return { blockTime: block.timestamp, totalMinted, maxSupply, paused, phases };
  }

  // What this wallet may still mint in phase `index`: {limit, minted, entry}. The contract's limit is
  // the allowance in an allowlist phase, else the phase's perWallet.
  async function walletLimit(client, sale, index) {
    const phase = sale.phases[index];
    const minted = await call(client, "mintedInPhase", [state.account, BigInt(index)]);
    if (phase.merkleRoot !== ZERO_ROOT) {
      const entry = allowlistEntry(phase.tree, state.account);
      return { entry, minted, limit: entry ? entry.allowance : 0n };
    }
    return { entry: null, minted, limit: BigInt(phase.perWallet) };
  }

  function refresh() {
    if (!refreshing) refreshing = doRefresh().finally(() => { refreshing = null; });
    return refreshing;
  }

  async function doRefresh() {
    try {
      const reader = await readClient();
      if (!reader) {
        state.sale = null;
        text("source-note", `Connect a wallet on ${drop.chain.name} to see the live sale.`);
      } else {
        state.sale = await readSale(reader.client);
        state.readAt = Date.now();
        text("source-note", `Live from the contract, read through ${reader.via}.`);
        if (state.account && state.onChain) {
          const index = phaseIndexAt(state.sale.phases, Number(state.sale.blockTime));
          state.limit = index >= 0 ? await walletLimit(reader.client, state.sale, index) : null;
          state.limitPhase = index;
        } else {
          state.limit = null;
        }
      }
    } catch (err) {
      text("source-note", `Could not read the contract: ${explain(err)}`);
    }
    state.reads += 1;
    render();
    document.body.dataset.reads = String(state.reads);
    document.body.dataset.ready = "true";
  }

  // ------------------------------------------------------------------ showing it

  function renderStatic() {
    document.title = `${drop.name} · mint`;
    text("name", drop.name);
    text("description", drop.description || "");
    if (drop.cover) {
      const img = document.createElement("img");
      img.src = drop.cover;
      img.alt = `${drop.name}: the collection's cover`;
      $("cover").append(img);
    }
    if (drop.banner) {
      const img = document.createElement("img");
      img.src = drop.banner;
      img.alt = "";
      $("banner").append(img);
    }
    text("contract", drop.contract);
    text("chain-name", drop.chain.name);
  }

  function renderPhases(sale, current, now) {
    const list = $("phases");
    list.replaceChildren();
    const phases = sale ? sale.phases : drop.phases.map((p) => ({ ...p, price: BigInt(p.price_wei), merkleRoot: p.merkle_root }));
    phases.forEach((p, i) => {
      const li = document.createElement("li");
      const kind = p.merkleRoot !== ZERO_ROOT ? "allowlist" : "public";
      li.textContent = `${p.name} (${kind}) · from ${utc(p.start)} · ${eth(p.price)}`;
      if (i === current) li.className = "current";
      list.append(li);
    });
  }

  function render() {
    const sale = state.sale;
    const now = chainNow();
    const index = sale ? phaseIndexAt(sale.phases, now) : -1;
    renderPhases(sale, index, now);
    const mintButton = $("mint");
    let canMint = false;
    if (!sale) {
      text("phase-name", drop.phases.length ? drop.phases[0].name : "Sale");
      text("phase-state", "The sale's live state shows once the chain can be read.");
      ["price", "minted", "remaining", "countdown"].forEach((id) => text(id, "–"));
      document.body.dataset.phase = "unknown";
    } else {
      const soldOut = sale.totalMinted >= sale.maxSupply;
      document.body.dataset.soldOut = String(soldOut);
      text("minted", `${sale.totalMinted} / ${sale.maxSupply}`);
      const phase = index >= 0 ? sale.phases[index] : null;
      const next = sale.phases[index + 1];
      let remaining = sale.maxSupply - sale.totalMinted;
      if (phase && phase.supply > 0) {
        const left = BigInt(phase.supply) - phase.minted;
        if (left < remaining) remaining = left < 0n ? 0n : left;
      }
      text("remaining", soldOut ? "0" : String(remaining));
      text("countdown-label", next ? `${next.name} opens in` : "Next phase");
      text("countdown", next ? duration(Number(next.start) - now) : "–");
      if (soldOut) {
        text("phase-kicker", "Sale");
        text("phase-name", "Sold out");
        text("phase-state", `Sold out: all ${sale.maxSupply} tokens are minted.`);
        text("price", phase ? eth(phase.price) : "–");
        document.body.dataset.phase = "sold-out";
      } else if (!phase) {
        const first = sale.phases[0];
        text("phase-kicker", "Coming soon");
        text("phase-name", first ? first.name : "Sale");
        text("phase-state", first ? `Opens ${utc(first.start)}.` : "No phase is set.");
        text("price", first ? eth(first.price) : "–");
        document.body.dataset.phase = "before";
      } else {
        const kind = phase.merkleRoot !== ZERO_ROOT ? "Allowlist" : "Public";
        text("phase-kicker", `${kind} phase`);
        text("phase-name", phase.name);
        text("price", eth(phase.price));
        document.body.dataset.phase = String(index);
        if (sale.paused) {
          text("phase-state", "The sale is paused by the artist.");
        } else if (remaining <= 0n) {
          text("phase-state", next ? `This phase is sold out; ${next.name} opens ${utc(next.start)}.` : "Sold out.");
        } else {
          text("phase-state", "Open: mint now.");
          canMint = true;
        }
      }
      document.body.dataset.minted = String(sale.totalMinted);
    }
    renderWallet(index);
    mintButton.disabled = !canMint || state.busy || !state.account || !state.onChain;
    renderTotal(index);
  }

  function renderWallet(index) {
    $("connect").textContent = state.account ? "Connected" : "Connect wallet";
    $("connect").disabled = Boolean(state.account);
    $("account").hidden = !state.account;
    if (state.account) text("account", state.account);
    const sw = $("switch");
    sw.hidden = !state.account || state.onChain;
    sw.textContent = `Switch to ${drop.chain.name}`;
    const el = $("eligibility");
    const lim = state.limit;
    if (!state.account || !state.sale || index < 0 || !lim || state.limitPhase !== index) { el.hidden = true; return; }
    el.hidden = false;
    const phase = state.sale.phases[index];
    if (phase.merkleRoot !== ZERO_ROOT && !lim.entry) {
      el.textContent = "This wallet is not on this phase's allowlist.";
    } else {
      const left = lim.limit > lim.minted ? lim.limit - lim.minted : 0n;
      el.textContent = `This wallet may mint ${left} more in this phase (${lim.minted} of ${lim.limit} minted).`;
    }
  }

  function quantity() {
    const raw = $("quantity").value.trim();
    return /^[1-9]\d{0,5}$/.test(raw) ? BigInt(raw) : null;
  }

  function renderTotal(index) {
    const q = quantity();
    const phase = state.sale && index >= 0 ? state.sale.phases[index] : null;
    text("total", phase && q ? `Total: ${eth(phase.price * q)} plus gas.` : (q ? "" : "Enter a whole number of tokens, 1 or more."));
  }

  // ------------------------------------------------------------------ minting

  async function mint() {
    const q = quantity();
    if (!q) { message("Enter a whole number of tokens, 1 or more.", "error"); return; }
    state.busy = true;
    render();
    $("receipt").hidden = true;
    try {
      await ensureChain();
      if (!state.onChain) return;
      await refresh();
      const sale = state.sale;
      const index = phaseIndexAt(sale.phases, chainNow());
      if (index < 0) { message(`The sale has not opened yet: it opens ${utc(sale.phases[0].start)}.`, "error"); return; }
      const phase = sale.phases[index];
      const value = phase.price * q;
      let allowance = 0n;
      let proof = [];
      if (phase.merkleRoot !== ZERO_ROOT) {
        const entry = allowlistEntry(phase.tree, state.account);
        // not listed: send no proof and let the contract say so, in its own words
        if (entry) ({ allowance, proof } = entry);
      }
      const client = walletClient();
      message("Confirm the mint in your wallet…");
      const { request } = await V.simulateContract(client, {
        address: drop.contract, abi: drop.abi, functionName: "mint", args: [q, allowance, proof], value, account: state.account,
      });
      const hash = await V.writeContract(client, request);
      message("Sent. Waiting for the block…");
      const receipt = await V.waitForTransactionReceipt(client, { hash });
      if (receipt.status !== "success") throw new Error("The mint transaction failed on chain and minted nothing.");
      showReceipt(receipt, value);
      message("Minted.", "ok");
    } catch (err) {
      message(explain(err), "error");
    } finally {
      state.busy = false;
      await refresh();
    }
  }

  function showReceipt(receipt, value) {
    const ids = V.parseEventLogs({ abi: drop.abi, logs: receipt.logs, eventName: "Transfer" })
      .filter((log) => same(log.address, drop.contract) && same(log.args.to, state.account))
      .map((log) => log.args.tokenId);
    text("token-ids", ids.map(String).join(", "));
    const tx = $("tx-hash");
    tx.replaceChildren();
    if (drop.chain.explorer) {
      const a = document.createElement("a");
      a.href = `${drop.chain.explorer}/tx/${receipt.transactionHash}`;
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      a.textContent = receipt.transactionHash;
      tx.append(a);
    } else {
      tx.textContent = receipt.transactionHash;
    }
    text("tx-block", String(receipt.blockNumber));
    text("tx-gas", String(receipt.gasUsed));
    text("tx-paid", eth(value));
    $("receipt").hidden = false;
    $("receipt").dataset.tokenIds = ids.map(String).join(",");
  }

  // ------------------------------------------------------------------ wiring

  renderStatic();
  $("connect").addEventListener("click", onConnectClick);
  $("switch").addEventListener("click", () => ensureChain().then(refresh, (err) => message(explain(err), "error")));
  $("mint").addEventListener("click", mint);
  $("quantity").addEventListener("input", () => renderTotal(state.sale ? phaseIndexAt(state.sale.phases, chainNow()) : -1));
  let lastIndex = null;
  setInterval(() => {
    if (!state.sale) return;
    const index = phaseIndexAt(state.sale.phases, chainNow());
    if (lastIndex !== null && index !== lastIndex) refresh(); // a phase just opened
    lastIndex = index;
    render();
  }, 1000);
  setInterval(() => { if (!state.busy) refresh(); }, REFRESH_MS);
  started = true;
  refresh();
})();
