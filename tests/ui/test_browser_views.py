"""Issue 18's page in real headless Chromium: axis ticks, a readable budget, generations in columns, a
candidate opened directly, per-task scores, a source parent's diff, two candidates side by side, the
Pareto front, spend over time, the review verdict as a column and filter, source names as ids."""

from __future__ import annotations

from agents.budget import BudgetConfig
from agents.session import records
from agents.workspace import load_workspace
from archive import Review
from tests.ui.conftest import BROWSER_MARKS, node, open_archive
from tests.ui.test_views import two_tasks

pytestmark = BROWSER_MARKS


def overview(page, running, count: int) -> None:
    page.goto(running.url)
    page.wait_for_selector(f"#graph[data-count='{count}']")


def test_the_fitness_plot_has_axis_ticks_and_labels(page, running, lineage):
    overview(page, running, 6)
    assert int(page.get_attribute("#plot", "data-yticks")) >= 3
    ticks = page.locator("#plot text.tick").all_text_contents()
    assert "0" in ticks and any(t.startswith("0.") for t in ticks)
    assert page.locator("#plot text.axis-label").all_text_contents() == ["candidates in creation order (6)", "fitness (search)"]


def test_the_budget_column_is_words_not_json(page, running, lineage, workspace_dir):
    records.save(
        load_workspace(workspace_dir),
        records.SessionRecord(id="s1", strategy="evolution", seed=0, backend="local", budget=BudgetConfig(candidates=8, dollars=2.0)),
    )
    overview(page, running, 6)
    page.wait_for_selector("#sessions-table")
    cells = page.locator("#sessions-table tbody td").all_text_contents()
    assert "8 candidates, $2.00" in cells and not any("{" in c for c in cells)


def test_generations_are_laid_out_in_columns(page, running, lineage, workspace_dir):
    with open_archive(workspace_dir) as archive:
        gens = [[two_tasks(archive, [lineage["a"], lineage["b"]], 0.1 * k + g / 10, 0.5, generation=g) for k in range(4)] for g in (0, 1)]
    overview(page, running, 14)
    xs = [{node(page, c).get_attribute("cx") for c in ids} for ids in gens]
    assert len(xs[0]) == len(xs[1]) == 1 and xs[0] != xs[1]
    assert "gen 1" in page.locator("#graph .col-heads text").all_text_contents()


def test_a_candidate_page_opened_directly_shows_its_workspace_and_scores_per_task(page, running, lineage, workspace_dir):
    with open_archive(workspace_dir) as archive:
        child = two_tasks(archive, [lineage["good"], lineage["b"]], 0.7, 0.4)
    page.goto(running.url + f"#/candidate/{child}")
    page.wait_for_selector(f"#candidate-view[data-id='{child}']:not([hidden])")
    assert page.text_content("#workspace").startswith("ui-test (")
    rows = [
        r.split("\t")
        for r in page.locator("#task-table tbody tr").evaluate_all("rs => rs.map(r => [...r.cells].map(c => c.textContent).join('\\t'))")
    ]
    assert rows[0] == ["search", "add/acc", "0.7000", "0.6000", "-", "+0.1000"]
    assert "parent sorter" in page.text_content("#task-table thead")
    diff = page.text_content("#cand-diff")
    assert f"{lineage['b']} is the source model sorter (models/sorter)" in diff and "genotype.json" not in diff


def test_a_source_name_opens_the_source(page, running, lineage):
    page.goto(running.url + "#/candidate/sorter")
    page.wait_for_selector(f"#candidate-view[data-id='{lineage['b']}']:not([hidden])")
    assert page.text_content("#cand-title").startswith(f"candidate {lineage['b']} (sorter)")


def test_two_candidates_side_by_side_from_the_table_and_from_a_candidate(page, running, lineage):
    overview(page, running, 6)
    page.check(f"[data-pick='{lineage['good']}']")
    page.check(f"[data-pick='{lineage['best']}']")
    page.click("#compare-picked")
    page.wait_for_selector("#compare-view:not([hidden]) #cmp-table")
    first = page.locator("#cmp-table tbody tr").first.locator("td").all_text_contents()
    assert first == ["search", "fitness", "0.6000", "0.7500", "+0.1500"]
    assert "+    weight: 0.3" in page.text_content("#cmp-diff")
    page.goto(running.url + f"#/candidate/{lineage['good']}")
    page.wait_for_selector(f"#candidate-view[data-id='{lineage['good']}']:not([hidden])")
    page.fill("#compare-with", "sorter")
    page.click("#compare-form button")
    page.wait_for_selector("#compare-view[data-ids]:not([hidden])")
    assert page.get_attribute("#compare-view", "data-ids") == f"{lineage['good']},{lineage['b']}"
    assert "is the source model sorter" in page.text_content("#cmp-diff")


def test_the_pareto_front_over_tasks(page, running, lineage, workspace_dir):
    with open_archive(workspace_dir) as archive:
        for add, sort in ((0.9, 0.1), (0.1, 0.9), (0.6, 0.6), (0.5, 0.5)):
            two_tasks(archive, [lineage["a"], lineage["b"]], add, sort)
    overview(page, running, 10)
    page.wait_for_selector("#pareto[data-front='3']")
    assert page.locator("#pareto-plot circle.front").count() == 3 and page.locator("#pareto-plot circle.pt").count() == 4
    page.select_option("#pareto-y", "sort/acc")
    assert page.locator("#pareto-table tbody tr").count() == 3


def test_the_session_spend_over_time(page, running, lineage, workspace_dir):
    with open_archive(workspace_dir) as archive:
        for k in range(3):
            two_tasks(archive, [lineage["a"]], 0.1 * k, 0.2, session="s9")
    overview(page, running, 9)
    page.wait_for_selector("#spend-plot[data-sessions='2']")
    assert page.input_value("#spend-measure") == "dollars"  # an LLM was paid: dollars by default
    assert page.locator("#spend-plot polyline.spend").count() == 2 and "s9: $0.03" in page.text_content("#spend-legend")
    page.select_option("#spend-measure", "compute_s")
    assert "s9: 5 over" in page.text_content("#spend-legend")


def test_the_review_verdict_is_a_column_and_a_filter(page, running, lineage, workspace_dir):
    with open_archive(workspace_dir) as archive:
        archive.attach_review(lineage["best"], Review(verdict="rejected", comment="overfits", who="ana"))
        archive.attach_review(lineage["good"], Review(verdict="approved", who="ana"))
    overview(page, running, 6)
    assert "verdict-rejected" in node(page, lineage["best"]).get_attribute("class")
    assert page.get_attribute("#graph path.crosses", "d").count("M") == 4  # the failed merge and the rejected one
    assert page.get_attribute("#graph path.rings", "d").count("M") == 1
    page.select_option("#f-verdict", "rejected")
    page.wait_for_selector("#cand-table[data-count='1']")
    assert page.locator("#candidates tbody td.review-rejected").all_text_contents() == ["rejected"]
    assert lineage["best"] in page.text_content("#candidates tbody")
    page.select_option("#f-verdict", "none")
    page.wait_for_selector("#cand-table[data-count='4']")
