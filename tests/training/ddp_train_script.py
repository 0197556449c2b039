"""Run by test_distributed.py under torchrun: the train stage, unchanged, in every process."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ticketsim.config import config_from_dict
from ticketsim.rundir import RunDir
from ticketsim.training.stage import run_train

run_dir, model_dir = Path(sys.argv[1]), sys.argv[2]
cfg = config_from_dict({"train": {"base_model": model_dir, "batch_size": 8, "max_seq_length": 32,
                                  "trainer": {"max_steps": 4, "eval_strategy": "no"},
                                  "learning_rate": 1e-3}})
res = run_train(cfg, RunDir(run_dir))
import torch.distributed as dist  # noqa: E402

info = {"rank": int(os.environ["RANK"]), "world": res.summary["processes"],
        "backend": res.summary["distributed_backend"], "steps": res.summary["steps"],
        "group_closed": not dist.is_initialized()}
(run_dir / f"rank{info['rank']}.json").write_text(json.dumps(info))
