// Clade's page: plain JavaScript, no libraries, nothing fetched from outside this server.
// Archive strings are only ever put on the page as text (textContent, text nodes), never as HTML.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const POLL_MS = 2000;
  const VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];
  const FAILED = ["failed", "invalid", "rejected"];
  const state = { split: "search", version: null, candidate: null, busy: false, force: false };

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function api(path, body) {
    const opts = { credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path + (path.includes("?") ? "&" : "?") + "split=" + encodeURIComponent(state.split), opts);
    let data;
    try { data = await res.json(); } catch (e) { throw new Error(`${path}: HTTP ${res.status}, and the answer is not JSON`); }
    if (!res.ok) throw new Error(data.error || `${path}: HTTP ${res.status}`);
    return data;
  }

  function showError(box, error) {
    box.hidden = !error;
    box.textContent = error ? String(error.message || error) : "";
  }

  const fmt = (v, digits = 4) => (v === null || v === undefined ? "-" : Number(v).toFixed(digits));
  const open = (id) => { location.hash = "#/candidate/" + id; };

  function colour(fitness, range) {
    if (fitness === null || !range) return "#cccccc";
    const span = range[1] - range[0];
    const t = span > 0 ? (fitness - range[0]) / span : 1;
    const pos = Math.min(VIRIDIS.length - 1.0001, Math.max(0, t * (VIRIDIS.length - 1)));
    const i = Math.floor(pos), f = pos - i;
    const rgb = (hex) => [1, 3, 5].map((o) => parseInt(hex.slice(o, o + 2), 16));
    const [a, b] = [rgb(VIRIDIS[i]), rgb(VIRIDIS[i + 1])];
    return "rgb(" + a.map((x, k) => Math.round(x + (b[k] - x) * f)).join(",") + ")";
  }

  function table(head, rows) {
    return el("table", {}, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))))));
  }

  // ---- overview: counts, spend, sessions, the best-fitness plot -----------------------------

  function renderOverview(o) {
    $("workspace").textContent = `${o.workspace} (${o.root})`;
    renderSplits(o.splits);
    const statuses = Object.entries(o.counts.status).map(([k, n]) => `${k} ${n}`).join(", ") || "none yet";
    const kinds = Object.entries(o.counts.kind).map(([k, n]) => `${k} ${n}`).join(", ") || "none yet";
    const s = o.spend;
    $("stats").replaceChildren(el("p", { id: "counts" }, `${o.total} candidates: ${statuses} (${kinds})`),
      el("p", { id: "spend" }, `spend: ${s.llm_tokens} LLM tokens, $${fmt(s.dollars)}, ${fmt(s.compute_s, 1)} s compute`));
    renderSessions(o.sessions);
    renderPlot(o.curve, o.split);
  }

  function renderSplits(splits) {
    const select = $("split");
    if ([...select.options].map((o) => o.value).join() === splits.join()) return;
    select.replaceChildren(...splits.map((name) => el("option", { value: name }, name)));
    select.value = state.split;
  }

  function renderSessions(sessions) {
    if (!sessions.length) return $("sessions").replaceChildren(el("p", { class: "muted" }, "no sessions recorded yet (`clade run` starts one)"));
    const rows = sessions.map((x) => [x.id, x.strategy ?? "-", x.error ?? x.status + (x.stop_reason ? `: ${x.stop_reason}` : ""),
      x.archive_spend.candidates, x.archive_spend.llm_tokens, "$" + fmt(x.archive_spend.dollars),
      x.wall_s === undefined ? "-" : fmt(x.wall_s, 0) + " s", x.budget ? JSON.stringify(x.budget) : "-"]);
    $("sessions").replaceChildren(table(["session", "strategy", "status", "candidates", "tokens", "dollars", "wall", "budget"], rows));
  }

  function renderPlot(points, split) {
    const plot = $("plot"), W = 640, H = 220, L = 56, R = 12, T = 12, B = 34;
    plot.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const scored = points.filter((p) => p.fitness !== null);
    plot.dataset.points = String(scored.length);
    if (!scored.length) {
      plot.replaceChildren(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "muted" }, `no fitness on split ${split} yet`));
      return;
    }
    let lo = scored.reduce((m, p) => Math.min(m, p.fitness), Infinity), hi = scored.reduce((m, p) => Math.max(m, p.fitness), -Infinity);
    if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
    const x = (i) => L + (points.length > 1 ? (i / (points.length - 1)) * (W - L - R) : (W - L - R) / 2);
    const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    const steps = [];  // best so far, as steps: flat until a candidate beats it
    points.forEach((p, k) => {
      const before = k ? points[k - 1].best : null;
      if (before !== null) steps.push(`${x(p.i)},${y(before)}`);
      if (p.best !== null) steps.push(`${x(p.i)},${y(p.best)}`);
    });
    const best = steps.join(" ");
    const kids = [svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }), svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }),
      svg("text", { x: L - 4, y: y(hi) + 4, "text-anchor": "end", class: "tick" }, fmt(hi, 3)),
      svg("text", { x: L - 4, y: y(lo) + 4, "text-anchor": "end", class: "tick" }, fmt(lo, 3)),
      svg("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle", class: "tick" }, `candidates in creation order (${points.length}); line: best ${split} fitness so far`),
    ];
    const r = scored.length > 500 ? 2 : 3.5;
    for (const p of scored) {
      kids.push(svg("circle", { cx: x(p.i), cy: y(p.fitness), r, class: "pt", "data-id": p.id, "aria-label": `${p.id}: fitness ${fmt(p.fitness)}` }));
    }
    kids.push(svg("polyline", { points: best, class: "best" }));  // over the dots
    const all = document.createDocumentFragment();
    for (const k of kids) all.appendChild(k);
    plot.replaceChildren(all);
  }

  // ---- the lineage graph ------------------------------------------------------------------

  const LABELS_MAX = 400;  // ids under the nodes up to this many; beyond, the tooltip says which is which

  function renderGraph(g) {
    const COL = 120, ROW = 34, PAD = 24, graph = $("graph");
    const byId = new Map(g.nodes.map((n) => [n.id, n]));
    state.nodes = byId;
    const cols = g.nodes.reduce((m, n) => Math.max(m, n.column), 0) + 1, rows = g.nodes.reduce((m, n) => Math.max(m, n.row), 0) + 1;
    const W = cols * COL + PAD * 2, H = rows * ROW + PAD * 2;
    graph.setAttribute("viewBox", `0 0 ${W} ${H}`);
    graph.setAttribute("width", W); graph.setAttribute("height", H);
    graph.dataset.count = String(g.nodes.length);
    if (!g.nodes.length) return graph.replaceChildren(svg("text", { x: PAD, y: PAD + 10, class: "muted" }, "no candidates yet"));
    const at = (n) => [PAD + n.column * COL + 10, PAD + n.row * ROW + 10];
    // One element per candidate; edges, crosses and labels are one path or group each (10,000 nodes stay quick).
    const edges = [], crosses = [], nodes = [], labels = [];
    for (const n of g.nodes) {
      const [x2, y2] = at(n);
      for (const pid of n.parents) {
        const p = byId.get(pid);
        if (!p) continue;
        const [x1, y1] = at(p), mid = (x1 + x2) / 2;
        edges.push(`M${x1 + 10},${y1}C${mid},${y1} ${mid},${y2} ${x2 - 10},${y2}`);
      }
      nodes.push(graphNode(n, x2, y2, g.fitness_range));
      if (FAILED.includes(n.status)) crosses.push(`M${x2 - 5},${y2 - 5}L${x2 + 5},${y2 + 5}M${x2 + 5},${y2 - 5}L${x2 - 5},${y2 + 5}`);
      if (g.nodes.length <= LABELS_MAX) labels.push(svg("text", { x: x2, y: y2 + 21, "text-anchor": "middle" }, n.id.slice(0, 7)));
    }
    const all = document.createDocumentFragment(), labelGroup = svg("g", { class: "labels" });
    for (const l of labels) labelGroup.appendChild(l);
    all.appendChild(svg("path", { d: edges.join(""), class: "edges" }));
    for (const node of nodes) all.appendChild(node);  // appendChild, not a spread: no argument-count limit
    all.appendChild(svg("path", { d: crosses.join(""), class: "crosses" }));
    all.appendChild(labelGroup);
    graph.replaceChildren(all);
  }

  function graphNode(n, x, y, range) {
    const failed = FAILED.includes(n.status), pending = n.status === "proposed" || n.status === "running";
    const fill = failed ? "#f3d6d6" : pending ? "#ffffff" : colour(n.fitness, range);
    const attrs = { class: `node st-${n.status} kind-${n.kind}` + (failed ? " failed" : "") + (pending ? " pending" : ""),
      "data-id": n.id, tabindex: 0, role: "link", "aria-label": describe(n), fill };
    return n.kind === "source" ? svg("rect", { ...attrs, x: x - 9, y: y - 9, width: 18, height: 18 }) : svg("circle", { ...attrs, cx: x, cy: y, r: 9 });
  }

  const describe = (n) => `${n.id} ${n.kind} ${n.status} fitness ${fmt(n.fitness)} (by ${n.strategy})` + (n.reason ? ` — ${n.reason}` : "");

  function showTip(e) {
    const hit = e.target.closest && e.target.closest("[data-id]"), tip = $("tip");
    const text = hit && (hit.getAttribute("aria-label") || hit.dataset.tip);
    tip.hidden = !text;
    if (!text) return;
    tip.textContent = text;
    tip.style.left = `${e.pageX + 12}px`;  // CSSOM, not a style attribute: allowed by the page's CSP
    tip.style.top = `${e.pageY + 12}px`;
  }

  // ---- the candidate page -----------------------------------------------------------------

  function renderCandidate(d) {
    const c = d.candidate;
    state.candidate = c.id;
    $("cand-title").textContent = `candidate ${c.id} · ${c.kind} · ${c.status}`;
    $("candidate-view").dataset.id = c.id;
    const parents = c.parents.length ? c.parents.flatMap((p, i) => [i ? ", " : "", el("a", { href: "#/candidate/" + p, class: "parent" }, p)]) : ["- (a source model)"];
    const p = c.proposer;
    const facts = [["parents", parents], ["children", [String(d.children)]],
      ["proposed by", [`${p.strategy}${p.model ? " / " + p.model : ""}${p.session ? " in session " + p.session : ""}`]],
      ["rationale", [p.rationale || "-"]], ["reason", [c.reason || "-"]], ["lesson", [c.lesson || "-"]],
      ["created", [c.created_at]], ["cost", [`${c.cost.llm_tokens} LLM tokens, $${fmt(c.cost.dollars)}, ${fmt(c.cost.compute_s, 1)} s compute`]]];
    $("cand-summary").replaceChildren(el("dl", {}, ...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, ...v)])));
    $("review-state").textContent = `verdict: ${d.verdict || "none yet"}` + (d.reviewable ? (d.approvable ? "" : ` (only a succeeded candidate can be approved; this one is ${c.status})`) : " (sources are not reviewed)");
    renderMetrics(c.metrics);
    renderGenotype(c, d.files);
    renderDiffs(d.diffs);
    $("cand-logs").textContent = c.logs || "(no logs)";
    $("cand-reviews").replaceChildren(...(c.reviews.length ? c.reviews.map((r) => el("li", { class: "review-" + r.verdict }, `${r.verdict} by ${r.who} at ${r.at}${r.comment ? ": " + r.comment : ""}`)) : [el("li", { class: "muted" }, "no reviews yet")]));
  }

  function renderMetrics(metrics) {
    const rows = [];
    for (const [split, m] of Object.entries(metrics)) {
      rows.push([split, "fitness", fmt(m.fitness)]);
      for (const [task, values] of Object.entries(m.tasks)) for (const [k, v] of Object.entries(values)) rows.push([split, `${task}/${k}`, fmt(v)]);
    }
    $("cand-metrics").replaceChildren(rows.length ? table(["split", "metric", "value"], rows) : el("p", { class: "muted" }, "not measured yet"));
  }

  function renderGenotype(c, files) {
    const rest = Object.fromEntries(Object.entries(c.genotype).filter(([k]) => k !== "recipe" && k !== "files"));
    const parts = Object.keys(rest).length ? [el("pre", { class: "genotype-fields" }, JSON.stringify(rest, null, 2))] : [];
    for (const [path, text] of Object.entries(files)) parts.push(el("h4", {}, path), el("pre", { class: "file" }, text));
    $("cand-genotype").replaceChildren(...parts);
  }

  function renderDiffs(diffs) {
    if (!diffs.length) return $("cand-diff").replaceChildren(el("p", { class: "muted" }, "a source model has no parent"));
    $("cand-diff").replaceChildren(...diffs.flatMap((d) => [el("h4", {}, `against parent ${d.parent}`), diffBlock(d.text)]));
  }

  function diffBlock(text) {
    if (!text) return el("p", { class: "muted" }, "(identical genotypes)");
    const kind = (line) => (line.startsWith("+++") || line.startsWith("---") ? "head" : line[0] === "+" ? "add" : line[0] === "-" ? "del" : line[0] === "@" ? "hunk" : "ctx");
    return el("pre", { class: "diff" }, ...text.split("\n").map((line) => el("span", { class: kind(line) }, line + "\n")));
  }

  async function review(action) {
    const body = action === "approve" ? { comment: $("approve-comment").value } : { reason: $("reject-reason").value };
    for (const b of [$("approve"), $("reject")]) b.disabled = true;
    try {
      renderCandidate(await api(`/api/candidate/${state.candidate}/${action}`, body));
      $(action === "approve" ? "approve-comment" : "reject-reason").value = "";
      showError($("review-error"), null);
    } catch (e) {
      showError($("review-error"), e);
    } finally {
      for (const b of [$("approve"), $("reject")]) b.disabled = false;
    }
  }

  // ---- chat -------------------------------------------------------------------------------

  function renderTurn(t) {
    const actions = (t.actions || []).map((a) => el("li", {}, el("details", {}, el("summary", {}, a.tool),
      el("pre", {}, JSON.stringify({ args: a.args, result: a.result }, null, 2)))));
    return el("div", { class: "turn" }, el("div", { class: "user" }, t.user), el("div", { class: "reply" }, t.reply),
      ...(actions.length ? [el("ul", { class: "actions" }, ...actions)] : []));
  }

  async function loadChat() {
    const s = await api("/api/chat");
    $("chat-status").textContent = s.message || "";
    for (const id of ["chat-input", "chat-send"]) $(id).disabled = !s.available;
    $("chat-log").replaceChildren(...s.turns.map(renderTurn));
  }

  async function sendChat(event) {
    event.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text) return;
    const pending = el("div", { class: "turn pending" }, el("div", { class: "user" }, text), el("div", { class: "reply muted" }, "thinking…"));
    $("chat-log").append(pending);
    $("chat-send").disabled = true;
    try {
      pending.replaceWith(renderTurn(await api("/api/chat", { text })));
      $("chat-input").value = "";
      showError($("chat-error"), null);
    } catch (e) {
      pending.remove();
      showError($("chat-error"), e);
    } finally {
      $("chat-send").disabled = false;
    }
  }

  // ---- routing and live updates -----------------------------------------------------------

  const routeId = () => (location.hash.match(/^#\/candidate\/([0-9a-fA-F]{4,40})$/) || [])[1] || null;

  async function refresh() {
    const id = routeId();
    $("overview-view").hidden = Boolean(id);
    $("candidate-view").hidden = !id;
    if (id) renderCandidate(await api(`/api/candidate/${id}`));
    else {
      state.candidate = null;
      const [o, g] = await Promise.all([api("/api/overview"), api("/api/graph")]);
      renderOverview(o);
      renderGraph(g);
    }
  }

  async function update(force) {
    if (force) state.force = true;
    if (state.busy) return;  // the running update sees state.force and goes round again
    state.busy = true;
    try {
      do {
        const forced = state.force;
        state.force = false;
        const { version } = await api("/api/version");
        if (forced || version !== state.version) {
          await refresh();
          state.version = version;
        }
        document.body.dataset.version = version;
      } while (state.force);
      showError($("error"), null);
      $("live").textContent = "live · read " + new Date().toLocaleTimeString();
    } catch (e) {
      showError($("error"), e);
      $("live").textContent = "not updating (see the message below)";
    } finally {
      state.busy = false;
    }
  }

  function start() {
    const clicked = (e) => e.target.closest && e.target.closest("[data-id]");
    for (const id of ["graph", "plot"]) {
      $(id).addEventListener("click", (e) => { const hit = clicked(e); if (hit) open(hit.dataset.id); });
      $(id).addEventListener("keydown", (e) => { const hit = clicked(e); if (hit && e.key === "Enter") open(hit.dataset.id); });
      $(id).addEventListener("mouseover", showTip);
      $(id).addEventListener("mouseleave", () => { $("tip").hidden = true; });
    }
    $("split").addEventListener("change", () => { state.split = $("split").value; update(true); });
    $("approve").addEventListener("click", () => review("approve"));
    $("reject").addEventListener("click", () => review("reject"));
    $("chat-form").addEventListener("submit", sendChat);
    window.addEventListener("hashchange", () => update(true));
    loadChat().catch((e) => showError($("chat-error"), e));
    update(true);
    setInterval(() => update(false), POLL_MS);
  }

  start();
})();
