// Clade's page: the overview (counts, spend, sessions), the chat, routing (#/, #/candidate/ID, #/compare/A/B) and live updates.
"use strict";
(() => {
  const C = window.Clade, { $, el, fmt } = C, state = C.state;
  const POLL_MS = 2000;

  function renderOverview(o) {
    C.setWorkspace(o.workspace, o.root);
    renderSplits(o.splits);
    const list = (counts) => Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(", ");
    const reviewed = list(o.counts.verdict || {});
    const s = o.spend;
    $("stats").replaceChildren(el("p", { id: "counts" }, `${o.total} candidates: ${list(o.counts.status) || "none yet"} (${list(o.counts.kind) || "none yet"})`
      + (reviewed ? `; reviewed: ${reviewed}` : "")),
    el("p", { id: "spend" }, `spend: ${s.llm_tokens} LLM tokens, $${fmt(s.dollars)}, ${fmt(s.compute_s, 1)} s compute`));
    renderSessions(o.sessions);
    C.renderPlot(o.curve, o.split);
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
      x.wall_s === undefined ? "-" : fmt(x.wall_s, 0) + " s", x.budget_text ?? "-"]);
    $("sessions").replaceChildren(C.table(["session", "strategy", "status", "candidates", "tokens", "dollars", "wall", "budget"], rows, { id: "sessions-table" }));
  }

  async function renderSpend() {
    const data = await C.api("/api/spend");
    state.spend = data;
    if (!state.measureChosen) {  // dollars when an LLM was paid, else compute seconds
      const dollars = data.sessions.some((s) => s.points.some((p) => p.dollars > 0));
      $("spend-measure").value = dollars ? "dollars" : "compute_s";
    }
    C.renderSpend(data, $("spend-measure").value);
  }

  // ---- chat -------------------------------------------------------------------------------
  function renderTurn(t) {
    const actions = (t.actions || []).map((a) => el("li", {}, el("details", {}, el("summary", {}, a.tool),
      el("pre", {}, JSON.stringify({ args: a.args, result: a.result }, null, 2)))));
    return el("div", { class: "turn" }, el("div", { class: "user" }, t.user), el("div", { class: "reply" }, t.reply),
      ...(actions.length ? [el("ul", { class: "actions" }, ...actions)] : []));
  }

  async function loadChat() {
    const s = await C.api("/api/chat");
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
      pending.replaceWith(renderTurn(await C.api("/api/chat", { text })));
      $("chat-input").value = "";
      C.showError($("chat-error"), null);
    } catch (e) {
      pending.remove();
      C.showError($("chat-error"), e);
    } finally {
      $("chat-send").disabled = false;
    }
  }

  // ---- routing and live updates -----------------------------------------------------------
  const REF = "([A-Za-z0-9][A-Za-z0-9._-]{0,99})";
  function route() {
    const hash = decodeURIComponent(location.hash);
    let m = hash.match(new RegExp(`^#/candidate/${REF}$`));
    if (m) return { view: "candidate", id: m[1] };
    m = hash.match(new RegExp(`^#/compare/${REF}/${REF}$`));
    return m ? { view: "compare", a: m[1], b: m[2] } : { view: "overview" };
  }

  async function refresh() {
    const r = route();
    for (const view of ["overview", "candidate", "compare"]) $(`${view}-view`).hidden = r.view !== view;
    if (r.view === "candidate") return C.renderCandidate(await C.api(`/api/candidate/${encodeURIComponent(r.id)}`));
    if (r.view === "compare") return C.renderCompare(await C.api(`/api/compare/${encodeURIComponent(r.a)}/${encodeURIComponent(r.b)}`));
    state.candidate = null;
    const [o, g, p] = await Promise.all([C.api("/api/overview"), C.api("/api/graph"), C.api("/api/pareto")]);
    state.graph = g;
    state.pareto = p;
    renderOverview(o);
    C.renderGraph(g);
    C.renderList(g);
    C.renderPareto(p);
    await renderSpend();
  }

  async function update(force) {
    if (force) state.force = true;
    if (state.busy) return;  // the running update sees state.force and goes round again
    state.busy = true;
    try {
      do {
        const forced = state.force;
        state.force = false;
        const { version } = await C.api("/api/version");
        if (forced || version !== state.version) {
          await refresh();
          state.version = version;
        }
        document.body.dataset.version = version;
      } while (state.force);
      C.showError($("error"), null);
      $("live").textContent = "live · read " + new Date().toLocaleTimeString();
    } catch (e) {
      C.showError($("error"), e);
      $("live").textContent = "not updating (see the message below)";
    } finally {
      state.busy = false;
    }
  }

  function start() {
    const clicked = (e) => e.target.closest && e.target.closest("[data-id]");
    for (const id of ["graph", "plot", "pareto-plot"]) {
      $(id).addEventListener("click", (e) => { const hit = clicked(e); if (hit) C.open(hit.dataset.id); });
      $(id).addEventListener("keydown", (e) => { const hit = clicked(e); if (hit && e.key === "Enter") C.open(hit.dataset.id); });
      $(id).addEventListener("mouseover", showTip);
      $(id).addEventListener("mouseleave", () => { $("tip").hidden = true; });
    }
    $("split").addEventListener("change", () => { state.split = $("split").value; update(true); });
    $("approve").addEventListener("click", () => C.review("approve"));
    $("reject").addEventListener("click", () => C.review("reject"));
    $("chat-form").addEventListener("submit", sendChat);
    for (const id of ["f-status", "f-verdict", "f-kind"]) $(id).addEventListener("change", () => { state.listLimit = 0; if (state.graph) C.renderList(state.graph); });
    for (const id of ["pareto-x", "pareto-y"]) $(id).addEventListener("change", () => state.pareto && C.renderPareto(state.pareto));
    $("spend-measure").addEventListener("change", () => { state.measureChosen = true; if (state.spend) C.renderSpend(state.spend, $("spend-measure").value); });
    $("compare-picked").addEventListener("click", () => { location.hash = `#/compare/${state.picked[0]}/${state.picked[1]}`; });
    $("compare-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const other = $("compare-with").value.trim();
      if (other) location.hash = `#/compare/${encodeURIComponent(state.candidate)}/${encodeURIComponent(other)}`;
    });
    window.addEventListener("hashchange", () => update(true));
    loadChat().catch((e) => C.showError($("chat-error"), e));
    update(true);
    setInterval(() => update(false), POLL_MS);
  }

  function showTip(e) {
    const hit = e.target.closest && e.target.closest("[data-id]"), tip = $("tip");
    const text = hit && (hit.getAttribute("aria-label") || hit.dataset.tip);
    tip.hidden = !text;
    if (!text) return;
    tip.textContent = text;
    tip.style.left = `${e.pageX + 12}px`;  // CSSOM, not a style attribute: allowed by the page's CSP
    tip.style.top = `${e.pageY + 12}px`;
  }

  start();
})();
