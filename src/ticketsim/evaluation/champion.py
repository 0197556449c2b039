"""The champion: which system (mode + model) wins on held-out links, noise-aware.

Candidates are keyword (BM25), dense and hybrid with the base and the fine-tuned model.
The **default** is ``search.mode`` (dense when it is ``champion``) with the fine-tuned model (base when there is none),
read with the lead view when evaluate scored that reading (``index.lead_weight: auto``) and it
scored higher: a reading is no change of system, so it needs no margin.
The rule, in the words the report prints:

1. Switch away from the default only when the best system's paired bootstrap interval
   of its gain over the default excludes zero (a gain inside the noise is no reason).
2. Never serve the fine-tuned model when it loses to the base model (dense, or the same
   mode with the base model) or to BM25 beyond the noise (the interval of the difference
   lies below zero): then the best system without it is served, even keyword search.

``index``, ``search``, ``serve``, ``dedup`` and ``label`` read ``evaluate/champion.json``
(:func:`load`) unless a mode or model is given explicitly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ticketsim.evaluation import bootstrap

FILE = "champion.json"
# system name -> (mode, model); the systems a champion can be chosen from
# "+lead": the model read with the lead view (index.lead_weight auto; the record's lead_weight)
SERVABLE: dict[str, tuple[str, str | None]] = {
    "bm25": ("keyword", None), "base": ("dense", "base"), "finetuned": ("dense", "finetuned"),
    "hybrid": ("hybrid", "finetuned"), "hybrid-base": ("hybrid", "base"),
    "finetuned+lead": ("dense", "finetuned"), "base+lead": ("dense", "base"),
}
MODEL_WORDS = {"finetuned": "fine-tuned", "base": "base", None: "BM25"}


def describe(system: str) -> str:
    """Plain words for a system: 'hybrid + fine-tuned', 'dense + base', 'keyword (BM25)',
    'dense + fine-tuned, lead view'."""
    mode, model = SERVABLE.get(system, ("dense", system))
    if mode == "keyword":
        return "keyword (BM25)"
    return f"{mode} + {MODEL_WORDS.get(model, model)}" + (
        ", lead view" if system.endswith("+lead") else "")


def default_system(mode: str, systems: Mapping[str, Any]) -> str | None:
    """The configured default (``search.reference_mode`` with the fine-tuned model) among ``systems``."""
    want = {"keyword": ["bm25"], "dense": ["finetuned", "base"],
            "hybrid": ["hybrid", "hybrid-base"]}[mode]
    return next((s for s in want if s in systems), None)


def choose(per_query: Mapping[str, Mapping[str, np.ndarray]], metric: str, default_mode: str,
           samples: int, seed: int, confidence: float) -> dict[str, Any] | None:
    """The champion record (see module doc) from per-query values of the servable systems."""
    cands = {s: np.asarray(pq[metric], dtype=np.float64) for s, pq in per_query.items()
             if s in SERVABLE}
    default = default_system(default_mode, cands)
    if default is None:
        return None
    means = {s: float(v.mean()) for s, v in cands.items()}
    lead = f"{default}+lead"
    if lead in cands and means[lead] > means[default]:
        # how the default model reads (index.lead_weight auto) is no switch of system: neither
        # reading is the safer one a priori, so the better-scoring one is the default
        default = lead

    def diff(a: str, b: str) -> dict[str, Any]:
        return bootstrap.paired_difference(cands[a], cands[b], samples, seed, confidence)

    best = max(cands, key=lambda s: (means[s], s == default))
    champion, reason = default, "the configured default"
    if best != default:
        d = diff(best, default)
        if d["significant"] and d["diff"] > 0:
            champion, reason = best, f"beats the default {describe(default)} beyond the noise"
        else:
            reason = (f"the configured default: {describe(best)} scored higher, but inside "
                      f"the noise")
    losses = []
    if SERVABLE[champion][1] == "finetuned":
        twin = {"hybrid": "hybrid-base", "finetuned+lead": "base+lead"}.get(
            champion, "base")  # same mode and reading, base model
        for rival in dict.fromkeys((twin, "base", "bm25")):
            if rival in cands:
                d = diff(champion, rival)
                if d["significant"] and d["diff"] < 0:
                    losses.append(rival)
    if losses:
        safe = [s for s in cands if SERVABLE[s][1] != "finetuned"]
        loser = champion
        champion = max(safe, key=lambda s: means[s])
        reason = (f"{describe(loser)} loses to {' and '.join(describe(r) for r in losses)} "
                  "beyond the noise, so the fine-tuned model is not served")
    mode, model = SERVABLE[champion]
    if model is None:  # keyword: the index still embeds (labels, dense fallback) with a model
        ft_ok = "finetuned" in cands and not any(
            diff("finetuned", r)["significant"] and diff("finetuned", r)["diff"] < 0
            for r in ("base", "bm25") if r in cands)
        model = "finetuned" if ft_ok else ("base" if "base" in cands else None)
    if champion != default:
        compared = champion
        vs = diff(champion, default)
    elif best != default:
        compared = best
        vs = diff(best, default)
    else:  # the default is best: its margin over the runner-up
        rest = [x for x in cands if x != default]
        compared = max(rest, key=lambda x: means[x]) if rest else default
        vs = diff(default, compared)
    n = int(len(cands[champion]))
    rec = {"system": champion, "mode": mode, "model": model, "metric": metric,
           "value": means[champion], "default": default, "default_value": means[default],
           "best": best, "compared": compared,
           "vs_default": {k: vs[k] for k in ("diff", "low", "high", "significant", "confidence")},
           "n_queries": n, "reason": reason, "systems": means}
    rec["sentence"] = sentence(rec)
    return rec


def out_of_fold(per_query: Mapping[str, Mapping[str, np.ndarray]], fold: Sequence[int],
                metric: str, default_mode: str, samples: int, seed: int,
                confidence: float) -> dict[str, Any] | None:
    """What the rule serves to queries it did not choose on (cross-fitting).

    The champion is chosen on the same held-out links its value is read from, so that value
    flatters it. Here the rule is run once per fold on the other folds' queries, and each
    fold's queries are scored with the system chosen without them: ``value`` is the mean of
    those scores, ``chosen`` the system per fold (with ``per_query``, the scores)."""
    f = np.asarray(fold)
    folds = sorted(set(f.tolist()))
    if len(folds) < 2:
        return None
    out = np.zeros(len(f))
    chosen = []
    for k in folds:
        rest = {s: {metric: np.asarray(pq[metric])[f != k]} for s, pq in per_query.items()}
        rec = choose(rest, metric, default_mode, samples, seed, confidence)
        if rec is None:
            return None
        chosen.append(rec["system"])
        out[f == k] = np.asarray(per_query[rec["system"]][metric])[f == k]
    return {"value": float(out.mean()), "chosen": chosen, "per_query": out}


def sentence(rec: Mapping[str, Any]) -> str:
    """'serving hybrid + fine-tuned: +0.05 MRR@10 over dense + fine-tuned, 95 % CI +0.02 to
    +0.08, 140 queries' (or why the default stays)."""
    m = str(rec["metric"]).upper().replace("RECALL", "Recall")
    v = rec["vs_default"]
    ci = (f"{100 * v['confidence']:.0f} % CI {v['low']:+.2f} to {v['high']:+.2f}, "
          f"{rec['n_queries']} queries")
    serving = f"serving {describe(rec['system'])}"
    if rec["system"] != rec["default"]:
        why = f" ({rec['reason']})" if "not served" in rec["reason"] else ""
        return f"{serving}: {v['diff']:+.2f} {m} over {describe(rec['default'])}, {ci}{why}"
    if rec["best"] == rec["system"]:
        if rec["compared"] == rec["system"]:
            return f"serving {describe(rec['system'])} (the default), {rec['n_queries']} queries"
        return (f"{serving} (the default, best on {m}): {v['diff']:+.2f} {m} over the next best, "
                f"{describe(rec['compared'])}, {ci}")
    return (f"{serving} (the default): {describe(rec['compared'])} scored {v['diff']:+.2f} {m}, "
            f"{ci}, inside the noise")


def _read(run_dir: str | Path) -> dict[str, Any] | None:
    path = Path(run_dir) / "evaluate" / FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def load(run_dir: str | Path) -> dict[str, Any] | None:
    """``evaluate/champion.json`` of a run directory, or None."""
    data = _read(run_dir)
    return data if data and data.get("mode") else None


def model_path(run_dir: str | Path) -> str | None:
    """The champion's model as stored (relative to the run when inside it); None: no champion
    file, or a champion without a model such as BM25."""
    return (_read(run_dir) or {}).get("model_path") or None
