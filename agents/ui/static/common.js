// Clade's page, shared helpers (window.Clade): DOM and SVG builders, the API call, number formats, axes.
// Plain JavaScript, no libraries, nothing fetched from outside this server. Archive strings are only ever
// put on the page as text (textContent, text nodes), never as HTML.
"use strict";
(() => {
  const C = (window.Clade = window.Clade || {});
  const SVG = "http://www.w3.org/2000/svg";
  const VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];
  C.FAILED = ["failed", "invalid", "rejected"];
  C.state = { split: "search", version: null, candidate: null, busy: false, force: false, picked: [] };
  C.$ = (id) => document.getElementById(id);

  C.el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  };

  C.svg = (tag, attrs = {}, text) => {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };

  C.api = async (path, body) => {
    const opts = { credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path + (path.includes("?") ? "&" : "?") + "split=" + encodeURIComponent(C.state.split), opts);
    let data;
    try { data = await res.json(); } catch (e) { throw new Error(`${path}: HTTP ${res.status}, and the answer is not JSON`); }
    if (!res.ok) throw new Error(data.error || `${path}: HTTP ${res.status}`);
    return data;
  };

  C.showError = (box, error) => {
    box.hidden = !error;
    box.textContent = error ? String(error.message || error) : "";
  };

  C.fmt = (v, digits = 4) => (v === null || v === undefined ? "-" : Number(v).toFixed(digits));
  C.delta = (v) => (v === null || v === undefined ? "-" : (v >= 0 ? "+" : "") + Number(v).toFixed(4));
  C.label = (id, name) => (name ? `${id} (${name})` : id);
  C.open = (id) => { location.hash = "#/candidate/" + encodeURIComponent(id); };

  C.colour = (fitness, range) => {
    if (fitness === null || !range) return "#cccccc";
    const span = range[1] - range[0];
    const t = span > 0 ? (fitness - range[0]) / span : 1;
    const pos = Math.min(VIRIDIS.length - 1.0001, Math.max(0, t * (VIRIDIS.length - 1)));
    const i = Math.floor(pos), f = pos - i;
    const rgb = (hex) => [1, 3, 5].map((o) => parseInt(hex.slice(o, o + 2), 16));
    const [a, b] = [rgb(VIRIDIS[i]), rgb(VIRIDIS[i + 1])];
    return "rgb(" + a.map((x, k) => Math.round(x + (b[k] - x) * f)).join(",") + ")";
  };

  C.table = (head, rows, attrs = {}) => C.el("table", attrs, C.el("thead", {}, C.el("tr", {}, ...head.map((h) => C.el("th", {}, h)))),
    C.el("tbody", {}, ...rows.map((r) => C.el("tr", {}, ...r.map((c) => (c instanceof Node && c.tagName === "TD" ? c : C.el("td", {}, c)))))));

  // "Nice" axis ticks: steps of 1, 2 or 5 times a power of ten, about `count` of them over [lo, hi].
  C.ticks = (lo, hi, count = 5) => {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / count, power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || 10 * power;
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  };
  C.tickText = (v, step) => (Math.abs(step) >= 1 ? String(Math.round(v)) : v.toFixed(Math.min(6, Math.max(0, -Math.floor(Math.log10(step))))));

  // Axes with ticks and grid lines for a plot box; returns [elements].
  C.axes = (box, xs, ys, xText, yText, xFormat, yFormat) => {
    const { L, R, T, B, W, H, x, y } = box, out = [];
    const xStep = xs.length > 1 ? xs[1] - xs[0] : 1, yStep = ys.length > 1 ? ys[1] - ys[0] : 1;
    for (const v of ys) {
      out.push(C.svg("line", { x1: L, y1: y(v), x2: W - R, y2: y(v), class: "grid" }));
      out.push(C.svg("text", { x: L - 5, y: y(v) + 4, "text-anchor": "end", class: "tick" }, (yFormat || C.tickText)(v, yStep)));
    }
    for (const v of xs) {
      out.push(C.svg("line", { x1: x(v), y1: H - B, x2: x(v), y2: H - B + 4, class: "axis" }));
      out.push(C.svg("text", { x: x(v), y: H - B + 16, "text-anchor": "middle", class: "tick" }, (xFormat || C.tickText)(v, xStep)));
    }
    out.push(C.svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }), C.svg("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
    out.push(C.svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", class: "axis-label" }, xText));
    out.push(C.svg("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle", class: "axis-label", transform: `rotate(-90 12 ${(T + H - B) / 2})` }, yText));
    return out;
  };

  C.box = (W, H, xlo, xhi, ylo, yhi, margins = { L: 62, R: 14, T: 10, B: 40 }) => {
    const { L, R, T, B } = margins;
    if (!(xhi > xlo)) { xlo -= 0.5; xhi += 0.5; }
    if (!(yhi > ylo)) { ylo -= 0.5; yhi += 0.5; }
    return { L, R, T, B, W, H, x: (v) => L + ((v - xlo) / (xhi - xlo)) * (W - L - R), y: (v) => T + (1 - (v - ylo) / (yhi - ylo)) * (H - T - B) };
  };

  C.fill = (node, kids) => {
    const all = document.createDocumentFragment();
    for (const k of kids) all.appendChild(k);  // appendChild, not a spread: no argument-count limit
    node.replaceChildren(all);
  };
})();
