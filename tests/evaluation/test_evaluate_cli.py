"""``ticketsim evaluate --model``: a further model compared in this run, never written to the config."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from evaluation_helpers import tiny_config
from typer.testing import CliRunner

from ticketsim.cli import app
from ticketsim.evaluation.stage import with_extra_models
from ticketsim.rundir import RunDir


def _systems(run: RunDir) -> list[str]:
    return list(run.summary("evaluate")["systems"])


def test_evaluate_model_twice_scores_it_once(tiny_run: RunDir, tiny_model_dir: Path,
                                             tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    base = ["evaluate", "--run-dir", str(tiny_run.path), "--set", f"train.base_model={tiny_model_dir}",
            "--set", "evaluate.systems=[bm25]", "--set", "evaluate.bootstrap.samples=200"]
    runner = CliRunner()
    for _ in range(2):  # --force: the second run scores again, from the config the first saved
        res = runner.invoke(app, [*base, "--model", str(other), "--force"])
        assert res.exit_code == 0, res.output
        assert _systems(tiny_run) == ["bm25", "other"]
        saved = yaml.safe_load((tiny_run.path / "config.yaml").read_text())
        assert saved["evaluate"]["extra_models"] == []
    res = runner.invoke(app, base)  # without --model: other is not compared (inputs changed)
    assert res.exit_code == 0, res.output
    assert _systems(tiny_run) == ["bm25"]


def test_extra_models_are_compared_once_and_the_config_is_not_changed(tiny_model_dir: Path,
                                                                       tmp_path: Path) -> None:
    cfg = tiny_config(tiny_model_dir, extra_models=[str(tmp_path / "x")])
    both = with_extra_models(cfg, [tmp_path / "x", tmp_path / "y", tmp_path / "sub" / ".." / "y"])
    assert [Path(p).name for p in both.evaluate.extra_models] == ["x", "y"]
    assert [Path(p).name for p in cfg.evaluate.extra_models] == ["x"]
    assert with_extra_models(cfg, []) is cfg
