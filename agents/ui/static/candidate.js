// Clade's page: one candidate (scores per task beside its parents', genotype, diffs, reviews) and two side by side.
"use strict";
(() => {
  const C = window.Clade, { $, el, fmt } = C;

  C.setWorkspace = (name, root) => { $("workspace").textContent = `${name} (${root})`; };

  C.renderCandidate = (d) => {
    const c = d.candidate;
    C.state.candidate = c.id;
    C.setWorkspace(d.workspace, d.root);
    $("cand-title").textContent = `candidate ${C.label(c.id, d.name)} · ${c.kind} · ${c.status}` + (d.verdict ? ` · ${d.verdict}` : "");
    $("candidate-view").dataset.id = c.id;
    const parents = c.parents.length ? c.parents.flatMap((p, i) => [i ? ", " : "", el("a", { href: "#/candidate/" + p, class: "parent" }, C.label(p, d.names[p]))]) : ["- (a source model)"];
    const p = c.proposer;
    const facts = [["parents", parents], ["children", [String(d.children)]],
      ["proposed by", [`${p.strategy}${p.model ? " / " + p.model : ""}${p.session ? " in session " + p.session : ""}`]],
      ["rationale", [p.rationale || "-"]], ["reason", [c.reason || "-"]], ["lesson", [c.lesson || "-"]],
      ["created", [c.created_at]], ["cost", [`${c.cost.llm_tokens} LLM tokens, $${fmt(c.cost.dollars)}, ${fmt(c.cost.compute_s, 1)} s compute`]]];
    $("cand-summary").replaceChildren(el("dl", {}, ...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, ...v)])));
    $("review-state").textContent = `verdict: ${d.verdict || "none yet"}` + (d.reviewable ? (d.approvable ? "" : ` (only a succeeded candidate can be approved; this one is ${c.status})`) : " (sources are not reviewed)");
    renderTasks(d.tasks, c.parents, d.names);
    renderMetrics(c.metrics);
    renderGenotype(c, d.files);
    renderDiffs(d.diffs, d.names);
    $("cand-logs").textContent = c.logs || "(no logs)";
    $("cand-reviews").replaceChildren(...(c.reviews.length ? c.reviews.map((r) => el("li", { class: "review-" + r.verdict }, `${r.verdict} by ${r.who} at ${r.at}${r.comment ? ": " + r.comment : ""}`)) : [el("li", { class: "muted" }, "no reviews yet")]));
  };

  function renderTasks(rows, parents, names) {
    if (!rows.length) return $("cand-tasks").replaceChildren(el("p", { class: "muted" }, "no per-task scores yet"));
    const head = ["split", "task / metric", "this", ...parents.map((p) => "parent " + (names[p] || p)), "vs best parent"];
    const body = rows.map((r) => [r.split, r.fitness_metric ? `${r.metric} (fitness)` : r.metric, fmt(r.value), ...r.parents.map((v) => fmt(v)),
      el("td", { class: r.delta === null ? "muted" : r.delta > 0 ? "up" : r.delta < 0 ? "down" : "" }, C.delta(r.delta))]);
    $("cand-tasks").replaceChildren(C.table(head, body, { id: "task-table" }));
  }

  function renderMetrics(metrics) {
    const rows = Object.entries(metrics).map(([split, m]) => [split, fmt(m.fitness), Object.keys(m.tasks).length]);
    $("cand-metrics").replaceChildren(rows.length ? C.table(["split", "fitness", "tasks"], rows) : el("p", { class: "muted" }, "not measured yet"));
  }

  function renderGenotype(c, files) {
    const rest = Object.fromEntries(Object.entries(c.genotype).filter(([k]) => k !== "recipe" && k !== "files"));
    const parts = Object.keys(rest).length ? [el("pre", { class: "genotype-fields" }, JSON.stringify(rest, null, 2))] : [];
    for (const [path, text] of Object.entries(files)) parts.push(el("h4", {}, path), el("pre", { class: "file" }, text));
    $("cand-genotype").replaceChildren(...parts);
  }

  function renderDiffs(diffs, names) {
    if (!diffs.length) return $("cand-diff").replaceChildren(el("p", { class: "muted" }, "a source model has no parent"));
    $("cand-diff").replaceChildren(...diffs.flatMap((d) => [el("h4", {}, `against parent ${C.label(d.parent, names[d.parent])}`),
      d.note ? el("p", { class: "note" }, d.note) : diffBlock(d.text)]));
  }

  function diffBlock(text) {
    if (!text) return el("p", { class: "muted" }, "(identical genotypes)");
    const kind = (line) => (line.startsWith("+++") || line.startsWith("---") ? "head" : line[0] === "+" ? "add" : line[0] === "-" ? "del" : line[0] === "@" ? "hunk" : "ctx");
    return el("pre", { class: "diff" }, ...text.split("\n").map((line) => el("span", { class: kind(line) }, line + "\n")));
  }

  C.review = async (action) => {
    const body = action === "approve" ? { comment: $("approve-comment").value } : { reason: $("reject-reason").value };
    for (const b of [$("approve"), $("reject")]) b.disabled = true;
    try {
      C.renderCandidate(await C.api(`/api/candidate/${encodeURIComponent(C.state.candidate)}/${action}`, body));
      $(action === "approve" ? "approve-comment" : "reject-reason").value = "";
      C.showError($("review-error"), null);
    } catch (e) {
      C.showError($("review-error"), e);
    } finally {
      for (const b of [$("approve"), $("reject")]) b.disabled = false;
    }
  };

  // ---- two candidates side by side ---------------------------------------------------------
  C.renderCompare = (d) => {
    const side = (x) => el("a", { href: "#/candidate/" + x.id }, C.label(x.id, x.name));
    $("compare-view").dataset.ids = `${d.a.id},${d.b.id}`;
    $("cmp-title").replaceChildren("A ", side(d.a), " and B ", side(d.b));
    const facts = (x) => `${x.kind}, ${x.status}${x.verdict ? ", " + x.verdict : ""}, fitness (${d.split}) ${fmt(x.fitness)}`;
    $("cmp-summary").replaceChildren(el("p", {}, "A: " + facts(d.a)), el("p", {}, "B: " + facts(d.b)));
    const body = d.metrics.map((r) => [r.split, r.metric, fmt(r.a), fmt(r.b),
      el("td", { class: r.delta === null ? "muted" : r.delta > 0 ? "up" : r.delta < 0 ? "down" : "" }, C.delta(r.delta))]);
    $("cmp-metrics").replaceChildren(body.length ? C.table(["split", "metric", "A " + C.label(d.a.id, d.a.name), "B " + C.label(d.b.id, d.b.name), "B - A"], body, { id: "cmp-table" })
      : el("p", { class: "muted" }, "neither has been measured"),
      el("p", { class: "muted" }, "B - A is the difference of two scores on the same examples, not a significance test."));
    $("cmp-diff").replaceChildren(d.note ? el("p", { class: "note" }, d.note) : diffBlock(d.diff));
  };
})();
