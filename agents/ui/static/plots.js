// Clade's page: the plots (fitness over candidates, spend over time, the Pareto front over tasks), inline SVG with axes.
"use strict";
(() => {
  const C = window.Clade, { $, svg, el, fmt } = C;
  const LINES = ["#3b528b", "#e66101", "#1b7f3b", "#b3261e", "#6f42c1", "#21918c", "#8c6d31", "#555555"];
  const pad = (lo, hi) => (hi - lo > 1e-12 ? [lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05] : [lo - 0.5, hi + 0.5]);
  const empty = (node, W, H, text) => { node.setAttribute("viewBox", `0 0 ${W} ${H}`); node.replaceChildren(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "muted" }, text)); };

  // ---- fitness: every scored candidate as a dot, the best so far as a step line ------------------
  C.renderPlot = (points, split) => {
    const plot = $("plot"), W = 480, H = 250;
    plot.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const scored = points.filter((p) => p.fitness !== null);
    plot.dataset.points = String(scored.length);
    if (!scored.length) return empty(plot, W, H, `no fitness on split ${split} yet`);
    const [lo, hi] = pad(Math.min(...scored.map((p) => p.fitness)), Math.max(...scored.map((p) => p.fitness)));
    const n = Math.max(1, points.length - 1), b = C.box(W, H, 0, n, lo, hi);
    const xs = C.ticks(0, n, 6).filter((v) => Number.isInteger(v)), ys = C.ticks(lo, hi, 5).filter((v) => v >= lo && v <= hi);
    const kids = C.axes(b, xs, ys, `candidates in creation order (${points.length})`, `fitness (${split})`);
    const steps = [];
    points.forEach((p, k) => {
      const before = k ? points[k - 1].best : null;
      if (before !== null) steps.push(`${b.x(p.i)},${b.y(before)}`);
      if (p.best !== null) steps.push(`${b.x(p.i)},${b.y(p.best)}`);
    });
    const r = scored.length > 500 ? 2 : 3.5;
    for (const p of scored) kids.push(svg("circle", { cx: b.x(p.i), cy: b.y(p.fitness), r, class: "pt", "data-id": p.id, "aria-label": `${p.id}: fitness ${fmt(p.fitness)}` }));
    kids.push(svg("polyline", { points: steps.join(" "), class: "best" }));
    plot.dataset.yticks = String(ys.length);
    C.fill(plot, kids);
  };

  // ---- spend: cumulative compute seconds, LLM dollars or tokens per session, over wall time --------
  const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400];
  const timeTicks = (tmax) => {  // round seconds, minutes or hours: 0, 2 min, 4 min ... not 1.7 min
    const step = TIME_STEPS.find((s) => tmax / s <= 6) || Math.ceil(tmax / 6 / 86400) * 86400;
    const out = [];
    for (let v = 0; v <= tmax + 1e-9; v += step) out.push(v);
    return out;
  };
  const round1 = (v) => (Number.isInteger(Math.round(v * 10) / 10) ? String(Math.round(v)) : v.toFixed(1));
  const duration = (s) => (s >= 3600 ? `${round1(s / 3600)} h` : s >= 60 ? `${round1(s / 60)} min` : `${Math.round(s)} s`);
  C.renderSpend = (data, measure) => {
    const plot = $("spend-plot"), W = 480, H = 250;
    plot.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const sessions = data.sessions.filter((s) => s.points.length);
    plot.dataset.sessions = String(sessions.length);
    $("spend-legend").replaceChildren();
    if (!sessions.length) return empty(plot, W, H, "no session has recorded a candidate yet");
    const all = sessions.flatMap((s) => s.points);
    const tmax = Math.max(1, ...all.map((p) => p.t)), ymax = Math.max(...all.map((p) => p[measure]));
    if (!(ymax > 0)) return empty(plot, W, H, `no ${$("spend-measure").selectedOptions[0].text} spent yet`);
    const b = C.box(W, H, 0, tmax, 0, ymax * 1.05);
    const ys = C.ticks(0, ymax * 1.05, 5), xs = timeTicks(tmax);
    const money = measure === "dollars" ? (v) => "$" + v.toFixed(v < 1 ? 2 : 0) : null;
    const kids = C.axes(b, xs, ys, "time since the session's first candidate", $("spend-measure").selectedOptions[0].text, (v) => duration(v), money);
    const legend = [];
    sessions.slice(0, LINES.length).forEach((s, k) => {
      const pts = [`${b.x(0)},${b.y(0)}`, ...s.points.map((p) => `${b.x(p.t)},${b.y(p[measure])}`)];
      kids.push(svg("polyline", { points: pts.join(" "), class: "spend", stroke: LINES[k], "data-session": s.id }));
      const last = s.points[s.points.length - 1], total = measure === "dollars" ? "$" + fmt(last[measure], 2) : Math.round(last[measure]);
      const swatch = el("span", { class: "swatch" }, "\u25a0");
      swatch.style.color = LINES[k];  // CSSOM: allowed by the page's CSP
      legend.push(el("li", {}, swatch, ` ${s.id}: ${total} over ${duration(last.t)}`));
    });
    if (sessions.length > LINES.length) legend.push(el("li", { class: "muted" }, `(${sessions.length - LINES.length} more sessions not drawn)`));
    $("spend-legend").replaceChildren(...legend);
    C.fill(plot, kids);
  };

  // ---- Pareto front over tasks ------------------------------------------------------------------
  C.renderPareto = (data) => {
    const [sx, sy] = [$("pareto-x"), $("pareto-y")], names = data.objectives;
    for (const [select, k] of [[sx, 0], [sy, 1]]) {
      if ([...select.options].map((o) => o.value).join() !== names.join()) {
        select.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
        select.value = names[Math.min(k, names.length - 1)] || "";
      }
    }
    const front = data.points.filter((p) => p.front).sort((a, b) => (b.fitness ?? -Infinity) - (a.fitness ?? -Infinity));
    $("pareto").dataset.front = String(front.length);
    $("pareto-table").replaceChildren(front.length ? C.table(["on the front", "fitness", ...names],
      front.slice(0, 30).map((p) => [el("a", { href: "#/candidate/" + p.id }, C.label(p.id, p.name)), fmt(p.fitness), ...names.map((n) => fmt(p.scores[n]))]))
      : el("p", { class: "muted" }, "no succeeded candidate with task scores on this split yet"));
    paretoPlot(data.points, sx.value, sy.value);
  };

  function paretoPlot(points, xName, yName) {
    const plot = $("pareto-plot"), W = 640, H = 300;
    plot.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const pts = points.filter((p) => p.scores[xName] != null && p.scores[yName] != null);
    if (!pts.length || !xName) return empty(plot, W, H, "no task scores to plot");
    const [xl, xh] = pad(Math.min(...pts.map((p) => p.scores[xName])), Math.max(...pts.map((p) => p.scores[xName])));
    const [yl, yh] = pad(Math.min(...pts.map((p) => p.scores[yName])), Math.max(...pts.map((p) => p.scores[yName])));
    const b = C.box(W, H, xl, xh, yl, yh);
    const kids = C.axes(b, C.ticks(xl, xh, 6).filter((v) => v >= xl && v <= xh), C.ticks(yl, yh, 6).filter((v) => v >= yl && v <= yh), xName, yName);
    const r = pts.length > 500 ? 2 : 3.5;
    for (const p of [...pts.filter((q) => !q.front), ...pts.filter((q) => q.front)]) {
      kids.push(svg("circle", { cx: b.x(p.scores[xName]), cy: b.y(p.scores[yName]), r: p.front ? r + 1.5 : r, class: p.front ? "pt front" : "pt",
        "data-id": p.id, "aria-label": `${C.label(p.id, p.name)}: ${xName} ${fmt(p.scores[xName])}, ${yName} ${fmt(p.scores[yName])}` + (p.front ? " (on the front)" : "") }));
    }
    C.fill(plot, kids);
  }
})();
