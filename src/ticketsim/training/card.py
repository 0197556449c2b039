"""The model card (train/model/README.md): what a shared model says about itself.

sentence-transformers' stock card names the base model "Unknown", shows only validation
numbers, and quotes training tickets verbatim (widget, usage example, sample rows): a
privacy leak when the model leaves the team. ticketsim writes its own card instead: the
base model, the exact training config, and, once ``evaluate`` ran, the held-out metrics
of the fine-tuned model against BM25 and the base model. The stock card (with its
examples) is kept only when ``train.model_card_examples`` is true.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ticketsim.rundir import atomic_write_text

CARD = "README.md"
MARK = "<!-- ticketsim:evaluation -->"


def base_model_name(base_model: str) -> str:
    """A readable base-model name: the default's hub id, a hub id as is, a folder's name."""
    if base_model == "default":
        return "sentence-transformers/all-MiniLM-L6-v2"
    p = Path(base_model)
    return p.name if p.is_absolute() else base_model


def write_card(model_dir: Path, train_cfg: dict[str, Any], summary: dict[str, Any]) -> None:
    """Replace (or, with model_card_examples, prefix) the stock card with ticketsim's."""
    path = Path(model_dir) / CARD
    stock = path.read_text(encoding="utf-8") if path.is_file() else ""
    base = base_model_name(str(train_cfg.get("base_model", "default")))
    front = {"library_name": "sentence-transformers", "pipeline_tag": "sentence-similarity",
             "tags": ["sentence-transformers", "sentence-similarity", "ticketsim"]}
    if not Path(base).is_absolute() and "/" in base:
        front["base_model"] = base
    lines = [
        "---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "",
        "# Ticket similarity model (ticketsim)", "",
        f"A sentence-transformers model fine-tuned from **{base}** on a support team's ticket "
        "history with ticketsim, to find similar and duplicate tickets.", "",
        "## Training", "",
        f"- base model: {base}",
        f"- loss: {train_cfg.get('loss')}; {summary.get('train_rows')} training rows, "
        f"{summary.get('steps')} steps, max_seq_length {summary.get('max_seq_length')} "
        f"(the saved model reads {summary.get('read_max_seq_length')} tokens)",
        f"- final training loss: {summary.get('train_loss', float('nan')):.4f}", "",
        "Training config (ticketsim `train` section, as used):", "", "```yaml",
        yaml.safe_dump(train_cfg, sort_keys=False).strip(), "```", "",
        MARK, "## Held-out evaluation", "",
        "Not evaluated yet: run `ticketsim evaluate` (it fills this section).", MARK, "",
        "## Examples", "",
    ]
    if train_cfg.get("model_card_examples"):
        body = stock.split("---", 2)[2] if stock.startswith("---") else stock
        lines += ["The sentence-transformers card follows, with training examples "
                  "(train.model_card_examples: true).", "", body]
    else:
        lines += ["Left out: examples would quote the team's tickets verbatim "
                  "(set train.model_card_examples: true to keep them)."]
    atomic_write_text(path, "\n".join(lines) + "\n")


def add_evaluation(model_dir: Path, result: dict[str, Any]) -> bool:
    """Fill the card's evaluation section from evaluate's result dict, its summary.json (False: no card)."""
    path = Path(model_dir) / CARD
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    if text.count(MARK) != 2:
        return False
    systems = result.get("systems") or {}
    lines = ["## Held-out evaluation", ""]
    if systems:
        metrics = list(result.get("metrics") or next(iter(systems.values())).keys())
        lines += [f"{result.get('n_queries')} held-out tickets with a known link, searched "
                  "against the whole history (the query itself excluded).", "",
                  "| system | " + " | ".join(metrics) + " |",
                  "|---|" + "---|" * len(metrics)]
        lines += [f"| {name} | " + " | ".join(f"{vals.get(m, float('nan')):.3f}" for m in metrics)
                  + " |" for name, vals in systems.items()]
        lines.append("")
    for name, per in (result.get("routing") or {}).items():
        for field, v in per.items():
            lines.append(f"- routing ({field}, kNN of held-out tickets), {name}: accuracy "
                         f"{v['accuracy']:.3f}, macro-F1 {v['macro_f1']:.3f} (n {v['n']})")
    for note in result.get("notes") or []:
        lines.append(f"- note: {note}")
    head, _, rest = text.partition(MARK)
    _, _, tail = rest.partition(MARK)
    atomic_write_text(path, head + MARK + "\n".join(lines) + "\n" + MARK + tail)
    return True
