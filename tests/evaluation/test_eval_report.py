"""The report: escaped ticket text, self-contained HTML that decodes every image in Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from evaluation_helpers import tiny_config, tiny_test_links, tiny_tickets, write_run
from typer.testing import CliRunner

from ticketsim.cli import app
from ticketsim.errors import TicketsimError
from ticketsim.evaluation.report import regenerate_report
from ticketsim.evaluation.stage import run_evaluate

CHROMIUM = Path("/usr/bin/chromium")
EVIL = "<script>window.PWNED = 1; document.title = 'pwned'</script> "


@pytest.fixture()
def evil_run(tmp_path: Path, tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    # every held-out ticket carries a script, so the worst misses show it
    tickets = tiny_tickets()
    held_out = tickets["id"].str.endswith("0")
    tickets.loc[held_out, "text"] = EVIL + "<img src=x onerror=window.PWNED=2> " + tickets["text"]
    run = write_run(tmp_path / "run", tickets, tiny_test_links(), tiny_model_dir,
                    log={"log_history": [{"step": 1, "loss": 3.0}, {"step": 5, "loss": 1.0}]})
    run_evaluate(tiny_config(tiny_model_dir, worst_misses=10), run)
    return run


def test_report_escapes_ticket_text_and_regenerates(evil_run) -> None:  # type: ignore[no-untyped-def]
    folder = evil_run.path / "evaluate"
    text = (folder / "report.html").read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "<img src=x" not in text
    assert "data:image/png;base64," in text and "http://" not in text and "https://" not in text
    md = (folder / "report.md").read_text()
    assert "<script>" not in md and "finetuned" in md
    (folder / "report.html").unlink()
    (folder / "loss.png").unlink()
    regenerate_report(evil_run.path)
    assert (folder / "report.html").is_file() and (folder / "loss.png").is_file()
    result = CliRunner().invoke(app, ["report", str(evil_run.path)])
    assert result.exit_code == 0, result.output
    (folder / "summary.json").unlink()  # a run from before summary.json: a clear error
    with pytest.raises(TicketsimError, match="evaluation result is missing"):
        regenerate_report(evil_run.path)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium missing: run `make sysdeps`")
def test_report_opens_in_headless_chromium(evil_run) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    html = evil_run.path / "evaluate" / "report.html"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html.as_uri())
            page.wait_for_load_state("load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth])")
            pwned = page.evaluate("() => window.PWNED === undefined ? null : window.PWNED")
            title = page.title()
            body = page.inner_text("body")
        finally:
            browser.close()
    assert {a for a, _, _ in images} >= {"metrics", "loss", "similarity", "precision_recall",
                                         "token_lengths"}
    assert all(complete and width > 0 for _, complete, width in images), images
    assert pwned is None and title == "ticketsim evaluation"
    assert "<script>window.PWNED" in body  # shown as text
    assert all(u.startswith(("file:", "data:")) for u in requests), requests


def test_no_network_needed(evil_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "copy.html"
    shutil.copy(evil_run.path / "evaluate" / "report.html", copy)
    assert "src='data:image/png" in copy.read_text()


def test_labels_section_in_words_and_a_never_given_duplicate() -> None:
    from ticketsim.evaluation.report import render_html, render_markdown
    from ticketsim.evaluation.result import EvaluationResult

    words = {"duplicate": "duplicate: not measured (never given: no cosine cut reaches precision "
                          "0.9 on held-out pairs)",
             "related": "related: 8 in 10 are related or duplicates (8 of 10; related = same "
                        "category and subcategory, or a known related link); with duplicate, "
                        "finds 9 in 10 of them (9 of 10)"}
    labels = {"duplicate": {"measured": False, "precision": None, "recall": 0.0, "labelled": 0,
                            "why_not": "never given", "words": words["duplicate"]},
              "related": {"measured": True, "precision": 0.8, "recall": 0.9, "labelled": 10,
                          "words": words["related"]}}
    dd = {"average_precision": 0.4, "best_f1": {"threshold": 0.5, "f1": 0.3},
          "at_target_precision": {"target": 0.9, "reached": False}, "duplicate_threshold": 1.000001,
          "related_threshold": 0.53, "calibration": {"a": 9.0, "b": -7.0}, "labels": labels}
    result = EvaluationResult(primary_metric="mrr@10", metrics=["mrr@10"],
                              systems={"base": {"mrr@10": .5}}, n_queries=20, n_candidates=99,
                              primary_system="base", duplicate={"base": dd},
                              thresholds_model="base")
    md = render_markdown(result, {}, [])
    assert "## What the labels mean" in md
    assert f"- {words['duplicate']}" in md and f"- {words['related']}" in md
    assert "| base | duplicate | – | 0.00 | 0 | no: never given |" in md
    assert "| base | related | 0.80 | 0.90 | 10 | yes |" in md
    assert "| never |" in md and "1.000" not in md  # the cut no pair reaches reads "never"
    page = render_html(result, {}, {})
    # one threshold table, written twice: the HTML has every markdown column (Platt a, b too)
    assert "| base | 0.400 | 0.500 (0.30) | P=0.9 not reached | never | 0.530 | 9.00, -7.00 |" in md
    assert ("<tr><td>base</td><td>0.400</td><td>0.500 (0.30)</td><td>P=0.9 not reached</td>"
            "<td>never</td><td>0.530</td><td>9.00, -7.00</td></tr>") in page
    assert "<h2>What the labels mean</h2>" in page and "<td>never</td>" in page
    assert "<li>related: 8 in 10 are related or duplicates (8 of 10; related = same category" in page


def test_routing_lines_mark_the_suggestion_search_serves() -> None:
    from ticketsim.evaluation.report import routing_lines, served_routing
    from ticketsim.evaluation.result import EvaluationResult

    def row(acc: float, diff: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"accuracy": acc, "macro_f1": acc, "n": 400}
        if diff is not None:
            out["vs_base"] = {"base": "base (suggestion)", "diff": diff, "low": diff - 0.03,
                              "high": diff + 0.03, "significant": False, "confidence": 0.95}
        return out

    result = EvaluationResult(
        primary_metric="mrr@10", metrics=["mrr@10"], systems={}, n_queries=1, n_candidates=1,
        modes={"finetuned": {"mode": "dense", "model": "finetuned"},
               "finetuned+lead": {"mode": "dense", "model": "finetuned+lead"},
               "hybrid": {"mode": "hybrid", "model": "finetuned+lead"}},
        routing={"base (suggestion)": {"category": row(0.72)},
                 "finetuned (suggestion)": {"category": row(0.713, -0.007)},
                 "finetuned+lead (suggestion)": {"category": row(0.72, 0.0)}},
        champion={"system": "finetuned", "model": "finetuned"})
    lines = routing_lines(result)
    assert lines[0].startswith("routing suggestion, finetuned (served) vs base: category "
                               "accuracy 0.713 vs 0.720 (-0.007, 95 % CI -0.037 to +0.023")
    assert lines[1].startswith("routing suggestion, finetuned+lead vs base:")
    # a hybrid champion serves its model's reading
    result.champion = {"system": "hybrid", "model": "finetuned"}
    assert served_routing(result) == "finetuned+lead (suggestion)"
    assert "finetuned+lead (served) vs base" in routing_lines(result)[1]
    result.champion = None
    assert served_routing(result) is None and "(served)" not in " ".join(routing_lines(result))
