// Clade's page: the lineage graph and the candidates table (filters by status, review verdict and kind).
"use strict";
(() => {
  const C = window.Clade, { $, svg, el, fmt } = C;
  const LABELS_MAX = 400;  // ids under the nodes up to this many; beyond, the tooltip says which is which
  const PAGE = 25;  // rows of the candidates table shown at first
  const MANY = 200;  // above this many candidates the edges fade, so the nodes stay readable

  C.renderGraph = (g) => {
    const COL = 110, ROW = 34, PAD = 30, TOP = 18, graph = $("graph");
    const byId = new Map(g.nodes.map((n) => [n.id, n]));
    C.state.nodes = byId;
    const cols = g.nodes.reduce((m, n) => Math.max(m, n.column), 0) + 1, rows = g.nodes.reduce((m, n) => Math.max(m, n.row), 0) + 1;
    const W = cols * COL + PAD * 2, H = rows * ROW + PAD * 2 + TOP;
    graph.setAttribute("viewBox", `0 0 ${W} ${H}`);
    graph.setAttribute("width", W); graph.setAttribute("height", H);
    graph.dataset.count = String(g.nodes.length);
    graph.dataset.columns = String(cols);
    if (!g.nodes.length) return graph.replaceChildren(svg("text", { x: PAD, y: PAD + 10, class: "muted" }, "no candidates yet"));
    const at = (n) => [PAD + n.column * COL + 10, PAD + TOP + n.row * ROW + 10];
    // One element per candidate; edges, crosses, rings and labels are one path or group each (10,000 nodes stay quick).
    const edges = [], crosses = [], rings = [], nodes = [], labels = [], heads = new Map();
    for (const n of g.nodes) {
      const [x2, y2] = at(n);
      if (!heads.has(n.column)) heads.set(n.column, columnTitle(n));
      for (const pid of n.parents) {
        const p = byId.get(pid);
        if (!p) continue;
        const [x1, y1] = at(p), mid = (x1 + x2) / 2;
        edges.push(`M${x1 + 10},${y1}C${mid},${y1} ${mid},${y2} ${x2 - 10},${y2}`);
      }
      nodes.push(graphNode(n, x2, y2, g.fitness_range));
      if (C.FAILED.includes(n.status) || n.verdict === "rejected") crosses.push(`M${x2 - 5},${y2 - 5}L${x2 + 5},${y2 + 5}M${x2 + 5},${y2 - 5}L${x2 - 5},${y2 + 5}`);
      if (n.verdict === "approved") rings.push(`M${x2 - 13},${y2}a13,13 0 1,0 26,0a13,13 0 1,0 -26,0`);
      if (g.nodes.length <= LABELS_MAX || n.name) labels.push(svg("text", { x: x2, y: y2 + 21, "text-anchor": "middle" }, n.name || n.id.slice(0, 7)));
    }
    const kids = [svg("path", { d: edges.join(""), class: g.nodes.length > MANY ? "edges many" : "edges" }), svg("path", { d: rings.join(""), class: "rings" }), ...nodes,
      svg("path", { d: crosses.join(""), class: "crosses" })];
    const labelGroup = svg("g", { class: "labels" }), headGroup = svg("g", { class: "col-heads" });
    for (const l of labels) labelGroup.appendChild(l);
    let previous = null;
    for (const [column, head] of [...heads].sort((a, b) => a[0] - b[0])) {
      const x = PAD + column * COL + 10;
      headGroup.appendChild(svg("text", { x, y: PAD + 2, "text-anchor": "middle" }, head.text));
      if (head.session && head.session !== previous) headGroup.appendChild(svg("text", { x: x - 12, y: PAD - 10, class: "session-head" }, head.session));
      previous = head.session || previous;
    }
    C.fill(graph, [...kids, labelGroup, headGroup]);
  };

  function columnTitle(n) {  // {text, session}: a session's name is written once, over its first column
    if (n.kind === "source") return { text: "sources", session: null };
    const gen = /:g(\d+)$/.exec(n.group || "");
    return { text: gen ? `gen ${gen[1]}` : n.session ? "" : "no session", session: n.session };
  }

  function graphNode(n, x, y, range) {
    const failed = C.FAILED.includes(n.status) || n.verdict === "rejected", pending = n.status === "proposed" || n.status === "running";
    const fill = failed ? "#f3d6d6" : pending ? "#ffffff" : C.colour(n.fitness, range);
    const attrs = { class: `node st-${n.status} kind-${n.kind}` + (failed ? " failed" : "") + (pending ? " pending" : "") + (n.verdict ? ` verdict-${n.verdict}` : ""),
      "data-id": n.id, tabindex: 0, role: "link", "aria-label": C.describe(n), fill };
    return n.kind === "source" ? svg("rect", { ...attrs, x: x - 9, y: y - 9, width: 18, height: 18 }) : svg("circle", { ...attrs, cx: x, cy: y, r: 9 });
  }

  C.describe = (n) => `${C.label(n.id, n.name)} ${n.kind} ${n.status}` + (n.verdict ? ` (${n.verdict} by a reviewer)` : "")
    + ` fitness ${fmt(n.fitness)} (by ${n.strategy})` + (n.reason ? ` — ${n.reason}` : "");

  // ---- the candidates table ----------------------------------------------------------------
  C.renderList = (g) => {
    const status = $("f-status").value, verdict = $("f-verdict").value, kind = $("f-kind").value;
    const rows = g.nodes.filter((n) => (!status || n.status === status) && (!kind || n.kind === kind)
      && (!verdict || (verdict === "none" ? !n.verdict : n.verdict === verdict)));
    rows.sort((a, b) => (b.fitness ?? -Infinity) - (a.fitness ?? -Infinity) || (a.id < b.id ? -1 : 1));
    const shown = rows.slice(0, C.state.listLimit || PAGE);
    const box = $("cand-table");
    box.dataset.count = String(rows.length);
    const head = ["", "id", "kind", "status", "review", `fitness (${C.state.split})`, "by", "session"];
    const body = shown.map((n) => [pick(n.id), el("a", { href: "#/candidate/" + n.id }, C.label(n.id, n.name)), n.kind, n.status,
      reviewCell(n.verdict), fmt(n.fitness), n.strategy, n.session || "-"]);
    const more = rows.length > shown.length ? [el("button", { type: "button", id: "list-more" }, `show ${Math.min(PAGE, rows.length - shown.length)} more of ${rows.length - shown.length}`)] : [];
    box.replaceChildren(rows.length ? C.table(head, body, { id: "candidates" }) : el("p", { class: "muted" }, "no candidate matches these filters"),
      el("p", { class: "muted" }, `${rows.length} of ${g.nodes.length} candidates`), ...more);
    if (more.length) $("list-more").addEventListener("click", () => { C.state.listLimit = shown.length + PAGE; C.renderList(g); });
    $("compare-picked").disabled = C.state.picked.length !== 2;
  };

  function reviewCell(verdict) {
    return el("td", { class: verdict ? "review-" + verdict : "muted" }, verdict || "-");
  }

  function pick(id) {
    const box = el("input", { type: "checkbox", "data-pick": id, "aria-label": "tick to compare " + id });
    box.checked = C.state.picked.includes(id);
    box.addEventListener("change", () => {
      C.state.picked = box.checked ? [...C.state.picked.filter((x) => x !== id), id].slice(-2) : C.state.picked.filter((x) => x !== id);
      for (const other of document.querySelectorAll("[data-pick]")) other.checked = C.state.picked.includes(other.dataset.pick);
      $("compare-picked").disabled = C.state.picked.length !== 2;
    });
    return el("td", {}, box);
  }
})();
