"""The train stage under torchrun with two CPU processes (gloo): data parallel, rank 0 writes.

``--standalone`` picks a free port, so two runs of the suite on one machine do not collide.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from training_helpers import make_run


@pytest.mark.slow
def test_two_process_gloo_training(tmp_path: Path, tiny_model_dir: Path) -> None:
    run = make_run(tmp_path / "run", "pair")
    script = Path(__file__).with_name("ddp_train_script.py")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--standalone", str(script), str(run.path), str(tiny_model_dir)],
        capture_output=True, text=True, env=env, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-4000:]
    ranks = [json.loads((run.path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 and r["backend"] == "gloo" and r["steps"] == 4 and
               r["group_closed"] for r in ranks)
    assert "destroy_process_group" not in out.stderr  # torch warns when a group is left open
    assert (run.path / "train" / "model" / "modules.json").is_file()
    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(str(run.path / "train" / "model"), device="cpu").encode(
        ["vpn token"]).shape == (1, 32)
