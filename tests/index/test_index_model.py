"""``ticketsim index --model finetuned|base|PATH``: the index embeds with the model asked for,
not the champion's; the index records that model, so search and serve use it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from index_helpers import make_run, tiny_tickets
from typer.testing import CliRunner

from ticketsim.cli import app
from ticketsim.errors import TicketsimError
from ticketsim.rundir import RunDir


def _index_model(run: RunDir) -> Path:
    stored = json.loads((run.path / "index" / "meta.json").read_text())["model_path"]
    return (run.path / stored).resolve()  # stored relative to the run when inside it


def test_index_model_overrides_the_champion(tmp_path: Path, tiny_model_dir: Path) -> None:
    run = make_run(tmp_path / "run", tiny_tickets(per_topic=2))
    champ, other = tmp_path / "champ", tmp_path / "other"
    shutil.copytree(tiny_model_dir, champ)
    shutil.copytree(tiny_model_dir, other)
    (run.path / "evaluate").mkdir()
    (run.path / "evaluate" / "champion.json").write_text(json.dumps({"model_path": str(champ)}))
    runner = CliRunner()
    base = ["index", "--run-dir", str(run.path), "--set", f"train.base_model={tiny_model_dir}"]

    res = runner.invoke(app, base)
    assert res.exit_code == 0, res.output
    assert _index_model(run) == champ.resolve() and f"index model: {champ.resolve()}" in res.output
    res = runner.invoke(app, [*base, "--model", "base"])
    assert res.exit_code == 0, res.output
    assert _index_model(run) == tiny_model_dir.resolve()
    res = runner.invoke(app, [*base, "--model", str(other)])
    assert res.exit_code == 0, res.output
    assert _index_model(run) == other.resolve()
    # no train stage: finetuned is a clear error, and the last index stays
    res = runner.invoke(app, [*base, "--model", "finetuned"])
    assert isinstance(res.exception, TicketsimError) and "no fine-tuned model" in str(res.exception)
    assert _index_model(run) == other.resolve()
    with run.stage("train", "tr") as tmp:
        shutil.copytree(tiny_model_dir, tmp / "model")
    res = runner.invoke(app, [*base, "--model", "finetuned"])
    assert res.exit_code == 0, res.output
    assert _index_model(run) == (run.path / "train" / "model").resolve()
    assert str(other) not in (run.path / "config.yaml").read_text()  # a run-time choice
