"""Every train key reaches the component it configures, read back from the built objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from training_helpers import built_trainer

from ticketsim.errors import TicketsimError


def _group(trainer: Any) -> dict[str, Any]:
    return trainer.optimizer.param_groups[0]


def _lambda(trainer: Any) -> Any:
    return trainer.lr_scheduler.lr_lambdas[0]


def _loader(trainer: Any) -> Any:
    return trainer.get_train_dataloader()


def _early(trainer: Any) -> Any:
    from transformers import EarlyStoppingCallback

    return next(c for c in trainer.callback_handler.callbacks if isinstance(c, EarlyStoppingCallback))


# key -> (overrides, read back from the built trainer, expected)
CASES: dict[str, tuple[dict[str, Any], Any, Any]] = {
    "learning_rate": ({"learning_rate": 4.2e-5}, lambda t: _group(t)["initial_lr"], 4.2e-5),
    "trainer.lr_scheduler_type": ({"lr_scheduler_type": "cosine"}, lambda t: _lambda(t).func.__name__,
                                  "_get_cosine_schedule_with_warmup_lr_lambda"),
    "trainer.warmup_steps": ({"warmup_steps": 0.25},
                             lambda t: _lambda(t).keywords["num_warmup_steps"], 25),
    "trainer.warmup_steps=7": ({"warmup_steps": 7},
                               lambda t: _lambda(t).keywords["num_warmup_steps"], 7),
    "trainer.weight_decay": ({"weight_decay": 0.123}, lambda t: _group(t)["weight_decay"], 0.123),
    "trainer.max_grad_norm": ({"max_grad_norm": 0.3}, lambda t: t.args.max_grad_norm, 0.3),
    "trainer.num_train_epochs": ({"num_train_epochs": 3.0}, lambda t: t.args.num_train_epochs, 3.0),
    "trainer.max_steps": ({"max_steps": 9}, lambda t: t.args.max_steps, 9),
    "batch_size": ({"batch_size": 6}, lambda t: _loader(t).batch_sampler.batch_size, 6),
    "trainer.gradient_accumulation_steps": ({"gradient_accumulation_steps": 3},
                                            lambda t: t.args.gradient_accumulation_steps, 3),
    "batch_sampler": ({"batch_sampler": "batch_sampler", "group_by_length": False},
                      lambda t: type(_loader(t).batch_sampler).__name__, "DefaultBatchSampler"),
    "group_by_length": ({"group_by_length": False},
                        lambda t: type(_loader(t).batch_sampler).__name__,
                        "NoDuplicatesBatchSampler"),
    "length_group_batches": ({"length_group_batches": 3},
                             lambda t: _loader(t).batch_sampler.group, 3),
    "seed": ({"seed": 1234}, lambda t: t.args.seed, 1234),
    "trainer.eval_strategy": ({"eval_strategy": "epoch"},
                              lambda t: (str(t.args.eval_strategy.value),
                                         str(t.args.save_strategy.value)), ("epoch", "epoch")),
    "trainer.eval_steps": ({"eval_steps": 11, "save_steps": 22},
                           lambda t: t.args.eval_steps, 11),
    "trainer.save_steps": ({"save_steps": 13, "load_best_model_at_end": False},
                           lambda t: t.args.save_steps, 13),
    "trainer.save_total_limit": ({"save_total_limit": 5}, lambda t: t.args.save_total_limit, 5),
    "trainer.logging_steps": ({"logging_steps": 17}, lambda t: t.args.logging_steps, 17),
    "trainer.load_best_model_at_end": ({"load_best_model_at_end": False},
                                       lambda t: t.args.load_best_model_at_end, False),
    "early_stopping_patience": ({"early_stopping_patience": 3},
                                lambda t: _early(t).early_stopping_patience, 3),
    "early_stopping_threshold": ({"early_stopping_patience": 1, "early_stopping_threshold": 0.02},
                                 lambda t: _early(t).early_stopping_threshold, 0.02),
    "eval_max_queries": ({"eval_max_queries": 3}, lambda t: len(t.evaluator.queries), 3),
    "trainer.dataloader_num_workers": ({"dataloader_num_workers": 0},
                                       lambda t: _loader(t).num_workers, 0),
    # a trainer argument ticketsim has no default for passes through by its own name
    "trainer.adam_beta2": ({"adam_beta2": 0.95}, lambda t: t.optimizer.defaults["betas"][1], 0.95),
}


@pytest.mark.config_keys(
    "train.learning_rate",
    "train.trainer.lr_scheduler_type",
    "train.trainer.warmup_steps",
    "train.trainer.weight_decay",
    "train.trainer.max_grad_norm",
    "train.trainer.num_train_epochs",
    "train.trainer.max_steps",
    "train.batch_size",
    "train.trainer.gradient_accumulation_steps",
    "train.batch_sampler",
    "train.group_by_length",
    "train.length_group_batches",
    "train.seed",
    "train.trainer.eval_strategy",
    "train.trainer.eval_steps",
    "train.trainer.save_steps",
    "train.trainer.save_total_limit",
    "train.trainer.logging_steps",
    "train.trainer.load_best_model_at_end",
    "train.early_stopping_patience",
    "train.early_stopping_threshold",
    "train.eval_max_queries",
    "train.trainer.dataloader_num_workers",
)
@pytest.mark.parametrize("key", list(CASES))
def test_key_reaches_trainer(key: str, tmp_path: Path, tiny_model_dir: Path) -> None:
    overrides, read, expected = CASES[key]
    trainer, _, _ = built_trainer(tmp_path, tiny_model_dir, **overrides)
    got = read(trainer)
    assert got == pytest.approx(expected) if isinstance(expected, float) else got == expected


def test_save_steps_off_the_evaluation_steps_is_an_error_not_a_rewrite(
        tmp_path: Path, tiny_model_dir: Path) -> None:
    """load_best_model_at_end needs a checkpoint at each evaluation: said, never rewritten."""
    from training_helpers import tiny_cfg

    from ticketsim.training.trainer import build_args

    cfg = tiny_cfg(tiny_model_dir, eval_steps=10, save_steps=25).train
    with pytest.raises(TicketsimError, match=r"save_steps \(25\) is not a multiple of "
                       r"train.trainer.eval_steps \(10\)") as err:
        build_args(cfg, tmp_path, precision="fp32", has_evaluator=True)
    assert "set save_steps to 30" in str(err.value.hint)
    # without load-best (or without a validation split) the value is passed as given
    for c, ev in ((tiny_cfg(tiny_model_dir, eval_steps=10, save_steps=25,
                            load_best_model_at_end=False).train, True), (cfg, False)):
        assert build_args(c, tmp_path, precision="fp32", has_evaluator=ev).save_steps == 25


def test_unknown_trainer_argument_is_a_config_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    from training_helpers import tiny_cfg

    from ticketsim.training.trainer import build_args

    cfg = tiny_cfg(tiny_model_dir, num_train_epoch=3).train
    with pytest.raises(TicketsimError, match="train.trainer.num_train_epoch: not an argument") as e:
        build_args(cfg, tmp_path, precision="fp32", has_evaluator=False)
    assert "num_train_epochs" in str(e.value.hint)
    bad = tiny_cfg(tiny_model_dir, lr_scheduler_type="sideways").train
    with pytest.raises(TicketsimError, match="train.trainer: .*sideways"):
        build_args(bad, tmp_path, precision="fp32", has_evaluator=False)


def test_defaults_mnrl_no_duplicates_and_full_lr(tmp_path: Path, tiny_model_dir: Path) -> None:
    trainer, _, _ = built_trainer(tmp_path, tiny_model_dir, learning_rate=None)
    sampler = _loader(trainer).batch_sampler  # length-grouped, no text twice in a batch
    assert type(sampler).__name__ == "LengthGroupedBatchSampler" and sampler.values is not None
    assert sampler.group == 16
    assert _group(trainer)["initial_lr"] == pytest.approx(3e-5)
    assert _lambda(trainer).func.__name__ == "_get_linear_schedule_with_warmup_lr_lambda"
    assert _lambda(trainer).keywords["num_warmup_steps"] == 10  # 0.1 of 100 steps
    assert trainer.args.metric_for_best_model == "eval_validation_cosine_mrr@10"


def test_dataloader_workers_reach_the_loader(tmp_path: Path, tiny_model_dir: Path) -> None:
    trainer, _, _ = built_trainer(tmp_path, tiny_model_dir, dataloader_num_workers=2)
    assert _loader(trainer).num_workers == 2


def test_no_evaluator_means_no_evaluation(tmp_path: Path, tiny_model_dir: Path) -> None:
    trainer, _, _ = built_trainer(tmp_path, tiny_model_dir, evaluator=False,
                                  early_stopping_patience=2)
    assert str(trainer.args.eval_strategy.value) == "no"
    assert not trainer.args.load_best_model_at_end


@pytest.mark.config_keys("train.trainer.report_to")
def test_report_to(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training_helpers import tiny_cfg

    from ticketsim.training import trainer as trainer_mod
    from ticketsim.training.trainer import build_args

    cfg = tiny_cfg(tiny_model_dir, report_to=["tensorboard"]).train
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(TicketsimError, match="needs the 'tensorboard' package"):
            build_args(cfg, tmp_path, precision="fp32", has_evaluator=False)
    monkeypatch.setattr(trainer_mod, "check_trackers", lambda names: None)
    args = build_args(cfg, tmp_path, precision="fp32", has_evaluator=False)
    assert args.report_to == ["tensorboard"]
    trainer, _, _ = built_trainer(tmp_path, tiny_model_dir, report_to=[])
    names = {type(c).__name__ for c in trainer.callback_handler.callbacks}
    assert not names & {"TensorBoardCallback", "MLflowCallback", "WandbCallback"}


@pytest.mark.config_keys("train.precision")
def test_precision_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                         tiny_model_dir: Path) -> None:
    from training_helpers import tiny_cfg

    from ticketsim.training import precision as prec
    from ticketsim.training.trainer import build_args

    assert prec.resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(prec, "_cuda_bf16", lambda: True)
    assert prec.resolve_precision("auto", "cuda") == "bf16"
    monkeypatch.setattr(prec, "_cuda_bf16", lambda: False)
    assert prec.resolve_precision("auto", "cuda") == "fp16"
    with pytest.raises(TicketsimError, match="bf16 is not supported by this GPU"):
        prec.resolve_precision("bf16", "cuda")
    with pytest.raises(TicketsimError, match="fp16 needs a CUDA GPU"):
        prec.resolve_precision("fp16", "cpu")
    assert prec.resolve_precision("bf16", "cpu") == "bf16"
    cfg = tiny_cfg(tiny_model_dir, precision="bf16").train
    args = build_args(cfg, tmp_path, precision=prec.resolve_precision(cfg.precision, "cpu"),
                      has_evaluator=False, use_cpu=True)
    assert args.bf16 and not args.fp16


def test_trainer_defaults_are_the_dataclass_fields_with_its_help_text() -> None:
    """ticketsim's trainer defaults use the library's names, and the commented default config
    shows the library's own help for each (read from its source without importing it)."""
    import dataclasses

    from sentence_transformers import SentenceTransformerTrainingArguments

    from ticketsim.config import TRAINER_DEFAULTS, TRAINER_OWNED, default_config_yaml, trainer_help

    fields = {f.name: f for f in dataclasses.fields(SentenceTransformerTrainingArguments)}
    assert set(TRAINER_DEFAULTS) <= set(fields) and set(TRAINER_OWNED) <= set(fields)
    helps = trainer_help()
    for name in TRAINER_DEFAULTS:
        assert helps[name] == " ".join(fields[name].metadata["help"].split()), name
    lines = default_config_yaml().splitlines()
    start = lines.index("  trainer:")
    for name in TRAINER_DEFAULTS:
        at = next(i for i, line in enumerate(lines) if i > start and line == f"    {name}:"
                  or i > start and line.startswith(f"    {name}: "))
        assert lines[at - 1].strip() == f"# {helps[name]} (transformers)"
