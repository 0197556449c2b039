"""Config validation: unknown keys and bad values are errors that name the key's path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ticketsim.config import (
    config_from_dict,
    default_config_yaml,
    leaf_keys,
    load_config,
    relative_paths,
)
from ticketsim.errors import ConfigError


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"trian": {}}, "trian: unknown key"),
        ({"data": {"columns": {"idd": "x"}}}, "data.columns.idd: unknown key"),
        ({"train": {"learning_rate": "fast"}}, "train.learning_rate"),
        ({"train": {"learning_rate": -1}}, "train.learning_rate: Input should be greater than 0"),
        ({"data": {"format": "xml"}}, "data.format"),
        ({"data": {"text_template": "no fields"}}, "data.text_template"),
    ],
)
def test_invalid_configs_name_the_key(tree: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        config_from_dict(tree)


def test_overrides_parse_yaml_values_and_reject_bad_syntax() -> None:
    cfg = config_from_dict({}, overrides=["train.trainer.num_train_epochs=2",
                                          "data.columns.extra=[a, b]", "data.columns.category=null"])
    assert cfg.train.trainer["num_train_epochs"] == 2 and cfg.data.columns.extra == ["a", "b"]
    assert cfg.train.trainer["eval_steps"] == 50  # the keys not given keep ticketsim's defaults
    with pytest.raises(ConfigError, match="section.key=value"):
        config_from_dict({}, overrides=["epochs"])
    with pytest.raises(ConfigError, match="unknown key"):
        config_from_dict({}, overrides=["train.nope=1"])


def test_relative_paths_resolve_next_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    p = tmp_path / "sub" / "c.yaml"
    p.write_text("data:\n  tickets: ../t.csv\n")
    cfg = load_config(p)
    assert cfg.data.tickets == (tmp_path / "t.csv").resolve()
    assert cfg.data.links_store == (tmp_path / "sub" / "ticketsim-links.sqlite").resolve()


def test_a_runs_own_base_model_moves_with_the_run(tmp_path: Path) -> None:
    """retrain points train.base_model at a copy inside the run: a moved run must use its own."""
    run = tmp_path / "run"
    (run / "retrain" / "base-1").mkdir(parents=True)
    cfg = config_from_dict({"train": {"base_model": str(run / "retrain" / "base-1")}})
    tree = relative_paths(cfg, run)
    assert tree["train"]["base_model"] == "retrain/base-1"
    moved = tmp_path / "moved"
    run.rename(moved)
    (moved / "config.yaml").write_text(yaml.safe_dump(tree))
    assert load_config(moved / "config.yaml").train.base_model == str(moved / "retrain" / "base-1")
    # a hub name or a folder outside the run stays as written
    outside = config_from_dict({"train": {"base_model": "org/some-model"}})
    assert relative_paths(outside, moved)["train"]["base_model"] == "org/some-model"


def test_missing_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    p = tmp_path / "list.yaml"
    p.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(p)
    p.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    p = tmp_path / "evil.yaml"
    p.write_text("data: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_default_yaml_documents_every_key() -> None:
    text = default_config_yaml()
    for key in leaf_keys():
        assert f"{key.split('.')[-1]}:" in text, key


@pytest.mark.parametrize(
    ("tree", "new"),
    [
        ({"train": {"epochs": 3}}, "train.trainer.num_train_epochs"),
        ({"train": {"warmup_ratio": 0.2}}, "train.trainer.warmup_steps"),
        ({"train": {"dataloader_workers": 2}}, "train.trainer.dataloader_num_workers"),
        ({"train": {"save_steps": 10}}, "train.trainer.save_steps"),
        ({"data": {"max_text_chars": 10}}, "data.truncate_text_at_chars"),
        ({"serve": {"max_text_chars": 10}}, "serve.reject_text_over_chars"),
        ({"evaluate": {"encoder": "onnx"}}, "index.encoder"),
        ({"pairs": {"augment": {"wordnet": {"seed": 3}}}}, "pairs.augment.seed"),
    ],
)
def test_keys_that_moved_name_their_new_key(tree: dict, new: str) -> None:
    """Copies of trainer arguments and keys whose name hid their meaning are gone: the old key
    is an error naming the new one."""
    old, node = "", tree
    while isinstance(node, dict):
        key = next(iter(node))
        old, node = f"{old}.{key}".lstrip("."), node[key]
    with pytest.raises(ConfigError, match=f"{old} moved to {new}") as err:
        config_from_dict(tree)
    assert err.value.hint == f"write it as {new}"


def test_trainer_arguments_ticketsim_sets_are_refused_with_the_key_to_use() -> None:
    with pytest.raises(ConfigError, match="per_device_train_batch_size is set by ticketsim: "
                       "set train.batch_size instead"):
        config_from_dict({"train": {"trainer": {"per_device_train_batch_size": 8}}})
    with pytest.raises(ConfigError, match="train.trainer: .*mapping"):
        config_from_dict({"train": {"trainer": [1, 2]}})
    cfg = config_from_dict({"train": {"trainer": {"adam_beta2": 0.95, "eval_steps": 7}}})
    assert cfg.train.trainer["adam_beta2"] == 0.95 and cfg.train.trainer["eval_steps"] == 7
    assert cfg.train.trainer["save_steps"] == 50
