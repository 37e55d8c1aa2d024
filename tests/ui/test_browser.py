"""The page end to end in real headless Chromium (Debian's /usr/bin/chromium driven by Playwright)."""

from __future__ import annotations

from agents.llm.scripted import ScriptedModel
from tests.ui.conftest import BROWSER_MARKS, merge, node, open_archive, result, serve

pytestmark = BROWSER_MARKS


def open_candidate(page, running, cid: str) -> None:
    page.goto(running.url)
    node(page, cid).click()
    page.wait_for_selector(f'#candidate-view[data-id="{cid}"]:not([hidden])')


def test_overview_plot_and_lineage_graph(page, running, lineage):
    page.goto(running.url)
    page.wait_for_selector("#graph[data-count='6']")
    assert page.locator("#graph .node").count() == 6
    assert "failed" in node(page, lineage["failed"]).get_attribute("class")
    assert page.get_attribute("#graph path.crosses", "d").count("M") == 2  # one cross (two strokes): the failed merge
    assert page.locator("#plot circle.pt").count() == 3 and page.locator("#plot polyline.best").count() == 1
    assert page.text_content("#counts").startswith("6 candidates: ")
    assert "$0.2500" in page.text_content("#spend")
    best, low = (node(page, lineage[k]).get_attribute("fill") for k in ("best", "good"))
    assert best != low  # coloured by fitness
    node(page, lineage["failed"]).hover()
    page.wait_for_selector("#tip:not([hidden])")
    assert "merge ran out of memory" in page.text_content("#tip")


def test_click_a_node_then_approve_lands_in_the_archive(page, running, lineage, workspace_dir):
    open_candidate(page, running, lineage["good"])
    assert "merge_method: linear" in page.text_content("#cand-genotype")
    assert f"{lineage['a']} is the source model adder" in page.text_content("#cand-diff")  # not genotype.json against recipe.yaml
    assert "0.6000" in page.text_content("#cand-metrics") and "evaluated" in page.text_content("#cand-logs")
    page.fill("#approve-comment", "good merge")
    page.click("#approve")
    page.wait_for_selector("#cand-reviews li.review-approved")
    with open_archive(workspace_dir) as archive:
        reviews = archive.get(lineage["good"]).reviews
    assert [(r.verdict, r.comment, r.who) for r in reviews] == [("approved", "good merge", "tester")]


def test_reject_with_a_reason(page, running, lineage, workspace_dir):
    open_candidate(page, running, lineage["best"])
    page.click("#reject")  # no reason yet: the page says so, nothing recorded
    page.wait_for_selector("#review-error:not([hidden])")
    assert "reason is empty" in page.text_content("#review-error")
    page.fill("#reject-reason", "overfits the search split")
    page.click("#reject")
    page.wait_for_selector("#cand-reviews li.review-rejected")
    assert page.is_hidden("#review-error")
    with open_archive(workspace_dir) as archive:
        assert [(r.verdict, r.comment) for r in archive.get(lineage["best"]).reviews] == [("rejected", "overfits the search split")]


def test_approving_a_failed_candidate_shows_why_and_changes_nothing(page, running, lineage, workspace_dir):
    open_candidate(page, running, lineage["failed"])
    page.click("#approve")
    page.wait_for_selector("#review-error:not([hidden])")
    assert "only a succeeded candidate can be approved" in page.text_content("#review-error")
    assert page.text_content("#cand-reviews").strip() == "no reviews yet"
    with open_archive(workspace_dir) as archive:
        assert archive.get(lineage["failed"]).reviews == []


def test_archive_text_is_shown_as_text(page, running, lineage):
    open_candidate(page, running, lineage["queued"])
    assert "try <b>bold</b>" in page.text_content("#cand-summary")
    assert page.locator("#cand-summary b").count() == 0


def test_a_candidate_recorded_while_the_page_is_open_appears(page, running, lineage, workspace_dir):
    page.goto(running.url)
    page.wait_for_selector("#graph[data-count='6']")
    with open_archive(workspace_dir) as archive:  # another writer, as a running session is
        cid = merge(archive, [lineage["best"]], 0.2)
        result(archive, cid, 0.95)
    node(page, cid).wait_for()
    page.wait_for_selector(f"#plot circle.pt[data-id='{cid}']")
    assert page.locator("#graph .node").count() == 7


def test_chat_round_trip(page, workspace_dir, lineage):
    model = ScriptedModel(['{"tool": "query_candidates", "args": {"top": 2}}', '{"answer": "the best merge is the 0.3 one"}'])
    running = serve(workspace_dir, model=model)
    try:
        page.goto(running.url)
        page.wait_for_selector("#chat-input:enabled")
        page.fill("#chat-input", "which merge is best?")
        page.click("#chat-send")
        page.wait_for_selector("#chat-log .turn:not(.pending) .reply")
        assert page.text_content("#chat-log .turn .reply") == "the best merge is the 0.3 one"
        assert page.text_content("#chat-log .actions summary") == "query_candidates"
    finally:
        running.stop()


def test_without_an_llm_the_chat_panel_says_so(page, running):
    running.server.state.chat.model = None
    page.goto(running.url)
    page.wait_for_selector("#chat-status:has-text('no LLM configured')")
    assert page.is_disabled("#chat-input") and page.locator("#graph .node").count() == 6


def test_with_a_token_the_printed_link_logs_in(page, workspace_dir, lineage):
    running = serve(workspace_dir, token="tok-browser-1")
    try:
        page.goto(running.url)
        assert "needs its token" in page.text_content("body")
        page.goto(running.server.login_url)
        page.wait_for_selector("#graph[data-count='6']")
        assert "token" not in page.url
    finally:
        running.stop()
