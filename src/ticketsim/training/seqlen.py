"""max_seq_length analysis: how long the training texts are in the model's own tokens.

Texts longer than ``max_seq_length`` are silently cut by the model; this module
measures how many would be, before any training, so the choice is informed. Above
the threshold (default 15 %) the report says so and names the next limit with its
cost; ``max_seq_length: auto`` picks the smallest of 128/256/384/512 under the
threshold. It needs the tokenizer, which is why it lives in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ticketsim.plots import figure, png

CANDIDATES = (128, 256, 384, 512)


def token_lengths(tokenizer: Any, texts: Sequence[str], batch: int = 512) -> np.ndarray:
    """Token count of each text with special tokens and no truncation."""
    out: list[int] = []
    for i in range(0, len(texts), batch):
        enc = tokenizer(list(texts[i:i + batch]), add_special_tokens=True, truncation=False,
                        verbose=False)
        out.extend(len(ids) for ids in enc["input_ids"])
    return np.asarray(out, dtype=np.int64)


def truncated_share(lengths: np.ndarray, limit: int) -> float:
    return float(np.mean(lengths > limit)) if len(lengths) else 0.0


def pick_auto(lengths: np.ndarray, threshold: float, model_max: int | None = None) -> int:
    """Smallest candidate limit that cuts fewer than ``threshold`` of the texts."""
    cands = [c for c in CANDIDATES if model_max is None or c <= model_max] or [CANDIDATES[0]]
    for c in cands:
        if truncated_share(lengths, c) < threshold:
            return c
    return cands[-1]


def cost_factor(new: int, old: int) -> float:
    """Rough time/memory per batch of ``new`` vs ``old`` tokens: linear layers + quadratic attention.

    In a BERT-sized encoder at these lengths the feed-forward and projection layers
    dominate (linear in length) and attention adds a quadratic share; 0.85/0.15 is a
    rule of thumb that matches MiniLM's measured step times within ~20 %.
    """
    r = new / old
    return 0.85 * r + 0.15 * r * r


def length_report(lengths: np.ndarray, limit: int, threshold: float, *, auto: bool = False,
                  model_max: int | None = None) -> dict[str, Any]:
    """Percentiles, truncation at ``limit`` and, above the threshold, a suggestion with its cost."""
    share = truncated_share(lengths, limit)
    pct = {f"p{q}": float(np.percentile(lengths, q)) if len(lengths) else 0.0
           for q in (50, 90, 95, 99)}
    rep: dict[str, Any] = {
        "texts": int(len(lengths)), "max_seq_length": int(limit), "auto": auto,
        "percentiles": pct, "max": int(lengths.max()) if len(lengths) else 0,
        "mean": float(lengths.mean()) if len(lengths) else 0.0,
        "truncated_share": share, "threshold": threshold,
        "truncated_at": {str(c): truncated_share(lengths, c) for c in CANDIDATES},
        "warning": None, "suggestion": None,
    }
    if share > threshold:
        rep["warning"] = (f"{100 * share:.1f} % of training texts are longer than max_seq_length "
                          f"{limit} and will be cut (threshold {100 * threshold:.0f} %)")
        better = [c for c in CANDIDATES if c > limit and (model_max is None or c <= model_max)]
        tips = [f"{c} (cuts {100 * truncated_share(lengths, c):.1f} %, ~{cost_factor(c, limit):.1f}x "
                f"time and memory per batch)" for c in better if c in (384, 512) or c == better[0]]
        if tips:
            rep["suggestion"] = "consider max_seq_length " + " or ".join(tips) + \
                ", or max_seq_length: auto"
    return rep


def histogram_png(lengths: np.ndarray, limit: int) -> bytes:
    """PNG histogram of token lengths with the limit marked."""
    fig, ax = figure()
    if len(lengths):
        ax.hist(lengths, bins=min(60, max(5, len(np.unique(lengths)))), color="#4C72B0")
    ax.axvline(limit, color="#C44E52", linestyle="--", label=f"max_seq_length {limit}")
    ax.set_xlabel("tokens per training text")
    ax.set_ylabel("texts")
    ax.set_title(f"{100 * truncated_share(lengths, limit):.1f} % truncated")
    ax.legend()
    return png(fig)
