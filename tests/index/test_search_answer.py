"""``Searcher.answer``: what the CLI and the API show around the hits, decided once."""

from __future__ import annotations

import json
from pathlib import Path

from index_helpers import index_config, make_run

from ticketsim.index.search import Searcher
from ticketsim.index.stage import run_index
from ticketsim.runconfig import load_run_config, save_run_config


def test_answer_notes_and_champion_sentence(tmp_path: Path, tiny_model_dir: Path) -> None:
    run = make_run(tmp_path / "run")
    cfg = index_config(tiny_model_dir)
    run_index(cfg, run)
    s = Searcher(run, cfg)
    try:
        a = s.answer("vpn drops", filters={"status": ["opne"]}, k=3)
        assert a.hits == [] and a.champion is None and a.mode == "dense"
        assert a.notes == ["no ticket has status 'opne'; status values: closed, open"]
        a = s.answer("vpn drops", filters={"status": ["open"]}, k=3)
        assert len(a.hits) == 3 and a.notes == []
    finally:
        s.close()
    sentence = "serving keyword: +0.05 MRR@10 over dense + fine-tuned"
    (run.path / "evaluate").mkdir()
    (run.path / "evaluate" / "champion.json").write_text(json.dumps(
        {"mode": "keyword", "model": "base", "sentence": sentence}))
    s = Searcher(run, cfg)
    try:
        a = s.answer("vpn drops", k=3)
        assert a.mode == "keyword" and a.champion == sentence  # the champion's mode, said so
        a = s.answer("vpn drops", k=3, mode="dense")
        assert a.mode == "dense" and a.champion is None  # a mode asked for: no verdict shown
    finally:
        s.close()
    s = Searcher(run, index_config(tiny_model_dir, search={"mode": "hybrid"}))
    try:
        a = s.answer("vpn drops", k=3)
        assert a.mode == "hybrid" and a.champion is None  # search.mode set: not the champion's
    finally:
        s.close()
    # the run's saved config writes every key out (search.mode: champion included), and
    # read back it still serves the champion (a saved 'dense' used to overrule it)
    save_run_config(cfg, run.path)
    saved = load_run_config(run.path)
    assert saved.search.mode == "champion" and saved.search.reference_mode == "dense"
    s = Searcher(run, saved)
    try:
        a = s.answer("vpn drops", k=3)
        assert a.mode == "keyword" and a.champion == sentence
    finally:
        s.close()
