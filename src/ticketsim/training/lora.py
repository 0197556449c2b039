"""LoRA through PEFT: train a small adapter, save it portably, merge it for serving.

sentence-transformers adds the adapter (``model.add_adapter``) and the trainer then
updates only its weights. PEFT records the base model's path in
``adapter_config.json``, by default this machine's absolute path; :func:`save_adapter`
replaces it with a portable name ('sentence-transformers/all-MiniLM-L6-v2' for the
bundled default, the hub name, or the base folder's name), and :func:`load_adapter_model`
resolves the base through :func:`ticketsim.models.resolve_model` wherever it runs.
:func:`merge_into` writes a plain model folder (adapter folded into the weights) that
loads with ``SentenceTransformer(path)`` and serves at full-model speed.

When it pays: large models on limited memory (optimizer state for ~1-2 % of the
weights instead of all). On a CPU with MiniLM it is not faster (14 vs 17 pairs/s
measured): the forward and backward passes through the frozen weights still dominate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ticketsim.errors import ConfigError
from ticketsim.models import resolve_model

DEFAULT_HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def add_lora(model: Any, lcfg: Any) -> dict[str, Any]:
    """Attach a LoRA adapter; returns trainable / total parameter counts and share."""
    from peft import LoraConfig, TaskType


    names = {n.split(".")[-1] for n, _ in model[0].auto_model.named_modules()}
    missing = [t for t in lcfg.target_modules if t not in names]
    if missing:
        raise ConfigError(
            f"LoRA target modules {missing} do not exist in this model",
            field="train.lora.target_modules",
            hint="module names here include " + ", ".join(sorted(n for n in names if n)[:15]),
        )
    peft_cfg = LoraConfig(
        r=lcfg.r, lora_alpha=lcfg.alpha, lora_dropout=lcfg.dropout,
        target_modules=list(lcfg.target_modules), task_type=TaskType.FEATURE_EXTRACTION,
    )
    model.add_adapter(peft_cfg)
    return parameter_counts(model)


def parameter_counts(model: Any) -> dict[str, Any]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable_parameters": int(trainable), "total_parameters": int(total),
            "trainable_share": trainable / total if total else 0.0}


def portable_base_name(base_model: str) -> str:
    """A name for the base model that means the same on another machine."""
    if base_model in ("default", ""):
        return DEFAULT_HUB_NAME
    p = Path(base_model).expanduser()
    if p.exists() or base_model.startswith((".", "/", "~")):
        return p.name
    return base_model


def save_adapter(model: Any, folder: Path, base_model: str) -> None:
    """Save the adapter (sentence-transformers folder) without this machine's base path."""
    model.save(str(folder))
    cfg_path = folder / "adapter_config.json"
    data = json.loads(cfg_path.read_text())
    data["base_model_name_or_path"] = portable_base_name(base_model)
    cfg_path.write_text(json.dumps(data, indent=2) + "\n")
    (folder / "ticketsim_base_model.json").write_text(json.dumps({"base_model": base_model}) + "\n")


def load_adapter_model(folder: str | Path, base_model: str | None = None, device: str | None = None
                       ) -> Any:
    """Base model (resolved offline, here) + the adapter in ``folder``."""
    from sentence_transformers import SentenceTransformer


    folder = Path(folder)
    if base_model is None:
        meta = folder / "ticketsim_base_model.json"
        base_model = json.loads(meta.read_text())["base_model"] if meta.is_file() else "default"
    model = SentenceTransformer(resolve_model(base_model), device=device)
    model.load_adapter(str(folder))
    sb = folder / "sentence_bert_config.json"
    if sb.is_file():
        model.max_seq_length = json.loads(sb.read_text()).get("max_seq_length", model.max_seq_length)
    return model


def merge_into(adapter_dir: Path, out: Path, base_model: str) -> None:
    """Fold the adapter into the base weights and save a plain sentence-transformers folder."""
    from peft import PeftModel
    from sentence_transformers import SentenceTransformer


    model = SentenceTransformer(resolve_model(base_model), device="cpu")
    transformer: Any = model[0]
    peft_model = PeftModel.from_pretrained(transformer.auto_model, str(adapter_dir))
    transformer.auto_model = peft_model.merge_and_unload()
    sb = adapter_dir / "sentence_bert_config.json"
    if sb.is_file():
        model.max_seq_length = json.loads(sb.read_text()).get("max_seq_length", model.max_seq_length)
    readme = adapter_dir / "README.md"
    model.save(str(out))
    if readme.is_file():
        (out / "README.md").write_text(readme.read_text())
