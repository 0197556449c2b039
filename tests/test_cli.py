"""The CLI: one clear line and exit 2 for user errors, fast help, config commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from ticketsim.config import Config, load_config

ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ticketsim.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=ENV, timeout=120)


def test_help_does_not_import_sentence_transformers() -> None:
    code = ("import sys; sys.argv=['ticketsim','--help']\nimport ticketsim.cli as c\n"
            "try:\n    c.main()\nexcept SystemExit:\n    pass\n"
            "assert 'sentence_transformers' not in sys.modules, 'imported'\n"
            "assert 'torch' not in sys.modules, 'torch imported'\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert out.returncode == 0, out.stderr
    assert "ingest" in out.stdout and out.stdout.strip().endswith("ok")


def test_config_init_writes_a_valid_commented_default(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    res = cli("config", "init", str(path))
    assert res.returncode == 0, res.stderr
    text = path.read_text()
    assert "# Peak learning rate" in text or "learning_rate" in text
    assert text.count("#") > 20
    cfg = load_config(path)
    assert cfg.model_dump(exclude={"data"}) == Config().model_dump(exclude={"data"})
    again = cli("config", "init", str(path))
    assert again.returncode == 2 and "exists" in again.stderr


def test_set_override_and_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  learning_rate: 1.0e-4\n")
    res = cli("config", "show", "-c", str(path), "--set", "train.trainer.num_train_epochs=3")
    assert res.returncode == 0, res.stderr
    shown = yaml.safe_load(res.stdout)
    assert shown["train"]["learning_rate"] == 1e-4 and shown["train"]["trainer"]["num_train_epochs"] == 3
    bad = cli("config", "show", "-c", str(path), "--set", "train.learning_rate=-1")
    assert bad.returncode == 2
    assert "train.learning_rate" in bad.stderr and "Traceback" not in bad.stderr
    path.write_text("train:\n  learnin_rate: 1.0e-4\n")
    bad = cli("config", "show", "-c", str(path))
    assert bad.returncode == 2 and "train.learnin_rate: unknown key" in bad.stderr


def test_ingest_error_is_one_line_with_exit_2_and_nothing_written(tmp_path: Path) -> None:
    export = tmp_path / "t.csv"
    export.write_text("id,short_description\n1,a\n1,b\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  tickets: {export}\n  columns: {{description: null}}\n")
    res = cli("ingest", "-c", str(cfg), "--run-dir", str(tmp_path / "run"))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "t.csv, row 3, field 'id': duplicate id '1'" in " ".join(res.stderr.split())
    assert not (tmp_path / "run" / "ingest").exists()


def test_ingest_cli_writes_artifacts_and_config(tmp_path: Path) -> None:
    export = tmp_path / "t.csv"
    export.write_text("id,short_description,description\n1,vpn,down\n2,mail,slow\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  tickets: {export}\n")
    res = cli("ingest", "-c", str(cfg), "--run-dir", str(tmp_path / "run"))
    assert res.returncode == 0, res.stderr
    assert "rows kept" in res.stdout
    assert (tmp_path / "run" / "ingest" / "tickets.parquet").is_file()
    saved = load_config(tmp_path / "run" / "config.yaml")
    assert saved.data.tickets == export
    # relative links store resolves next to the config file, outside the run directory
    assert (tmp_path / "ticketsim-links.sqlite").is_file()
