"""The report: escaped ticket text, self-contained HTML that decodes every image in Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from evaluation_helpers import tiny_config, tiny_test_links, tiny_tickets, write_run
from typer.testing import CliRunner

from ticketsim.cli import app
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
