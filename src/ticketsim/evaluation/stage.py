"""The evaluate stage: held-out links -> metrics.json, thresholds.json and the readable report.

Every system sees the same queries (held-out tickets with a true link) against the
whole history, the query itself always excluded: BM25, the base model, the
fine-tuned model, hybrid RRF and any extra model folders. The primary metric comes
with a paired bootstrap interval of its difference to the best baseline, so a gain
inside the noise is not sold as a gain. Duplicate/related thresholds of the
fine-tuned model (base model when none) go to ``evaluate/thresholds.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ticketsim.config import Config
from ticketsim.errors import TicketsimError
from ticketsim.evaluation import bootstrap, duplicates, folds, metrics, routing
from ticketsim.evaluation.bm25 import BM25Scorer
from ticketsim.evaluation.dense import DenseScorer
from ticketsim.evaluation.hybrid import HybridScorer, rrf_scores
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import RunDir, StageResult, atomic_write_json, combine_hashes
from ticketsim.thresholds import FILE as THRESHOLDS_FILE
from ticketsim.thresholds import Thresholds

STAGE = "evaluate"
BASELINES = ("bm25", "base")
DETAILS = "details.json"
METRICS = "metrics.json"


# ------------------------------------------------------------------------ inputs
def _read_parquet(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise TicketsimError(f"cannot read: {exc}", file=path,
                             hint="rerun the stage that writes it with --force") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise TicketsimError(f"missing column(s) {', '.join(missing)}", file=path,
                             field=missing[0], hint="see docs/artifacts.md; rerun the stage")
    return df


class EvalData:
    """Tickets, split and held-out relevance, as indices into the ticket table."""

    def __init__(self, run: RunDir, time_aware: bool) -> None:
        ingest_dir = run.require("ingest", "evaluate")
        pairs_dir = run.require("pairs", "evaluate")
        self.tickets_path = ingest_dir / "tickets.parquet"
        t = _read_parquet(self.tickets_path, ["id", "text"])
        self.tickets = t.reset_index(drop=True)
        self.ids = [str(x) for x in t["id"]]
        self.texts = [str(x) for x in t["text"].fillna("")]
        self.index = {tid: i for i, tid in enumerate(self.ids)}
        self.n = len(self.ids)

        split = _read_parquet(pairs_dir / "split.parquet", ["id", "split"])
        split_of = dict(zip(split["id"].astype(str), split["split"].astype(str), strict=True))
        self.split = np.array([split_of.get(i, "train") for i in self.ids], dtype=object)

        links_path = pairs_dir / "test_links.parquet"
        tl = _read_parquet(links_path, ["a", "b"])
        if "label" in tl.columns:
            tl = tl[tl["label"].fillna(1).astype(int) == 1]
        kinds = tl["kind"].fillna("duplicate").astype(str) if "kind" in tl.columns else None
        rel: dict[int, dict[int, str]] = {}
        unknown = 0
        for row, (a, b) in enumerate(zip(tl["a"].astype(str), tl["b"].astype(str), strict=True)):
            if a not in self.index or b not in self.index or a == b:
                unknown += 1
                continue
            k = "related" if kinds is not None and kinds.iloc[row] == "related" else "duplicate"
            ia, ib = self.index[a], self.index[b]
            rel.setdefault(ia, {})[ib] = k
            if self.split[ib] == "test":
                rel.setdefault(ib, {})[ia] = k
        self.skipped: dict[str, int] = {}
        if unknown:
            self.skipped["link to an unknown ticket"] = unknown
        n_test = int((self.split == "test").sum())
        no_link = n_test - sum(1 for q in rel if self.split[q] == "test")
        if no_link > 0:
            self.skipped["held-out ticket without a true link"] = no_link

        self.created: np.ndarray | None = None
        if time_aware:
            if "created" not in t.columns or t["created"].isna().all():
                raise TicketsimError(
                    "evaluate.time_aware needs creation dates, and tickets have none",
                    file=self.tickets_path, field="created",
                    hint="map data.columns.created in the config, or set evaluate.time_aware: false",
                )
            created = pd.to_datetime(t["created"])
            nat = created.isna().to_numpy()
            vals = created.astype("int64").to_numpy().copy()
            vals[nat] = np.iinfo(np.int64).max  # undated tickets are never "before" anything
            self.created = vals
            dropped = 0
            for q in list(rel):
                keep = {r: k for r, k in rel[q].items() if vals[r] < vals[q]}
                dropped += len(rel[q]) - len(keep)
                if keep:
                    rel[q] = keep
                else:
                    del rel[q]
                    self.skipped["time-aware: no true link created before the query"] = (
                        self.skipped.get("time-aware: no true link created before the query", 0) + 1)
        self.query_idx = sorted(rel, key=lambda i: self.ids[i])
        self.relevant_kind = [rel[q] for q in self.query_idx]
        self.relevant = [set(r) for r in self.relevant_kind]

        lp = ingest_dir / "links.parquet"
        self.known: set[frozenset[int]] = set()
        self.labelled_negatives: list[tuple[int, int]] = []
        self.edges: list[tuple[int, int]] = [(q, r) for q, rr in rel.items() for r in rr]
        if lp.is_file():
            links = _read_parquet(lp, ["a", "b"])
            labels = links["label"].fillna(1).astype(int) if "label" in links.columns else None
            for row, (a, b) in enumerate(zip(links["a"].astype(str), links["b"].astype(str),
                                             strict=True)):
                if a not in self.index or b not in self.index:
                    continue
                ia, ib = self.index[a], self.index[b]
                self.known.add(frozenset((ia, ib)))
                if labels is not None and labels.iloc[row] == 0:
                    if ia in rel or ib in rel:
                        self.labelled_negatives.append((ia, ib) if ia in rel else (ib, ia))
                else:
                    self.edges.append((ia, ib))


# ------------------------------------------------------------------------ helpers
def inputs_hash(cfg: Config, run: RunDir) -> str:
    pairs = run.read_stamp("pairs") or {}
    train = run.read_stamp("train") or {}
    return combine_hashes(pairs.get("inputs_hash", ""), train.get("inputs_hash", ""),
                          cfg.evaluate.fingerprint(), cfg.train.base_model)


def _model_name(path: Path, taken: set[str]) -> str:
    name = path.name or str(path)
    if name in ("model", "", "."):
        name = f"{path.parent.name}/{path.name}"
    base, i = name, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    return name


def _token_lengths(model: Any, texts: list[str]) -> dict[str, Any]:
    tok = getattr(model, "tokenizer", None)
    if tok is None:
        return {}
    lengths = [len(ids) for ids in tok(texts, add_special_tokens=True, truncation=False)["input_ids"]]
    max_len = int(getattr(model, "max_seq_length", 0) or 0)
    return {"lengths": lengths, "max_seq_length": max_len,
            "truncated_share": float(np.mean([n > max_len for n in lengths])) if max_len else 0.0,
            "p50": float(np.percentile(lengths, 50)), "p95": float(np.percentile(lengths, 95))}


def read_loss_curve(path: Path) -> list[tuple[float, float]]:
    """(step, loss) from train/log.json: a list of records, {"log_history": [...]} or columns."""
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return []
    if isinstance(data, dict):
        for key in ("log_history", "history", "records", "log", "steps_log"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            steps, losses = data.get("step") or data.get("steps"), data.get("loss")
            if isinstance(steps, list) and isinstance(losses, list):
                return [(float(s), float(v)) for s, v in zip(steps, losses, strict=False)]
            return []
    out = []
    for i, rec in enumerate(data if isinstance(data, list) else []):
        if isinstance(rec, dict) and isinstance(rec.get("loss"), int | float):
            out.append((float(rec.get("step", i)), float(rec["loss"])))
    return out


def _worst_misses(d: EvalData, ranking: metrics.Ranking, n: int) -> list[dict[str, Any]]:
    rows = []
    for i, q in enumerate(ranking.query_idx):
        ranks = ranking.rel_rank[i]
        if not ranks:
            continue
        best_rel, best_rank = min(ranks.items(), key=lambda kv: kv[1])
        rows.append((best_rank, i, q, best_rel))
    rows.sort(key=lambda r: (-r[0], d.ids[r[2]]))
    out = []
    for rank, i, q, r in rows[:n]:
        if rank == 1:
            break
        above = [{"id": d.ids[c], "text": d.texts[c][:300], "score": round(s, 4)}
                 for c, s in ranking.top[i][: min(3, rank - 1)]]
        out.append({"query_id": d.ids[q], "query": d.texts[q][:300], "true_id": d.ids[r],
                    "true_text": d.texts[r][:300], "rank": int(rank), "above": above})
    return out


# ------------------------------------------------------------------------ stage
def run_evaluate(
    cfg: Config, run: RunDir, *, force: bool = False, reporter: Reporter = NULL
) -> StageResult:
    """Evaluate every available system on the held-out links and write metrics, thresholds, report."""
    from ticketsim.inference import encoder_for
    from ticketsim.models import model_fingerprint, resolve_model

    ev = cfg.evaluate
    h = inputs_hash(cfg, run)
    out_dir = run.stage_path(STAGE)
    if not force and run.is_fresh(STAGE, h) and (out_dir / METRICS).is_file():
        reporter.log("evaluate: inputs unchanged, skipped")
        return StageResult(STAGE, True, out_dir, json.loads((out_dir / METRICS).read_text()))

    d = EvalData(run, ev.time_aware)
    notes: list[str] = []
    if not d.query_idx:  # cold start: no links yet, measure routing only (issue 17)
        from ticketsim.evaluation.coldstart import evaluate_routing_only

        return evaluate_routing_only(cfg, run, d, h, reporter=reporter)
    reporter.log(f"evaluate: {len(d.query_idx)} queries against {d.n} tickets")
    tie = metrics.order_keys(d.ids)
    keep = max(metrics.MAP_K, max(ev.k_values), ev.hybrid.window,
               ev.duplicate.hard_negatives + 1)

    scorers: dict[str, Any] = {}
    models: dict[str, Any] = {}
    model_paths: dict[str, str] = {}
    if "bm25" in ev.systems:
        scorers["bm25"] = BM25Scorer(d.texts)
    wanted_dense: list[tuple[str, str]] = []
    if "base" in ev.systems:
        wanted_dense.append(("base", resolve_model(cfg.train.base_model)))
    ft_dir = run.stage_path("train") / "model"
    if "finetuned" in ev.systems:
        if run.read_stamp("train") is not None and ft_dir.is_dir():
            wanted_dense.append(("finetuned", str(ft_dir)))
        else:
            notes.append("the train stage has not run: no fine-tuned model was evaluated")
    taken = {"bm25", "base", "finetuned", "hybrid"}
    for p in ev.extra_models:
        name = _model_name(Path(p), taken)
        taken.add(name)
        wanted_dense.append((name, resolve_model(p)))
    for name, path in wanted_dense:
        # cached by (model weights, backend, text): reruns and shared systems embed nothing twice
        encoder = encoder_for(path, ev.encoder, cache_dir=run.path / "cache", reporter=reporter)
        reporter.log(f"evaluate: embedding {len(d.texts)} tickets with {name} ({ev.encoder})")
        emb = encoder.encode(d.texts, ev.batch_size, reporter)
        models[name], model_paths[name] = getattr(encoder, "encoder", encoder), path
        scorers[name] = DenseScorer(name, emb, path)

    rankings: dict[str, metrics.Ranking] = {}
    for name, scorer in scorers.items():
        rankings[name] = metrics.rank_queries(name, scorer, d.query_idx, d.relevant, tie,
                                              keep=keep, created=d.created)
    if "hybrid" in ev.systems and "bm25" in rankings:
        dense_name = ev.hybrid.dense if ev.hybrid.dense in rankings else (
            "base" if "base" in rankings else None)
        if dense_name is None:
            notes.append("hybrid skipped: no dense system to fuse with BM25")
        else:
            if dense_name != ev.hybrid.dense:
                notes.append(f"hybrid fuses BM25 with {dense_name} ({ev.hybrid.dense} is missing)")
            fused = rrf_scores([rankings["bm25"], rankings[dense_name]], d.n, ev.hybrid.rrf_k,
                               ev.hybrid.window)
            scorers["hybrid"] = HybridScorer("hybrid", d.query_idx, fused)
            rankings["hybrid"] = metrics.rank_queries("hybrid", scorers["hybrid"], d.query_idx,
                                                      d.relevant, tie, keep=keep, created=d.created)
    if not rankings:
        raise TicketsimError("no system to evaluate", field="evaluate.systems",
                             hint="list at least one of bm25, base, finetuned, hybrid")

    qm = metrics.QueryMetrics(d.ids, ev.k_values)
    per_query = {name: qm.table(r, d.relevant) for name, r in
                 reporter.track(list(rankings.items()), description="metrics")}
    systems = {name: metrics.summarize(pq) for name, pq in per_query.items()}
    pm = ev.primary_metric
    bs = ev.bootstrap
    ci: dict[str, Any] = {"per_system": {
        name: bootstrap.interval(pq[pm], bs.samples, bs.seed, bs.confidence)
        for name, pq in per_query.items()}}
    base_present = [b for b in BASELINES if b in systems]
    best_baseline = max(base_present, key=lambda b: systems[b][pm]) if base_present else None
    ci["baseline"] = best_baseline
    ci["vs_baseline"] = {}
    if best_baseline:
        for name in systems:
            if name in BASELINES:
                continue
            ci["vs_baseline"][name] = bootstrap.paired_difference(
                per_query[name][pm], per_query[best_baseline][pm], bs.samples, bs.seed,
                bs.confidence)

    fold_info: dict[str, Any] | None = None
    if len(d.query_idx) < ev.folds.min_queries:
        labels = folds.clusters(d.n, d.edges)
        k = min(ev.folds.k, len({int(labels[q]) for q in d.query_idx}))
        if k >= 2:
            fold_of = folds.cluster_folds(d.query_idx, labels, k)
            fold_info = {"k": k, "systems": {n: metrics.fold_spread(pq, fold_of)
                                             for n, pq in per_query.items()}}
            notes.append(f"only {len(d.query_idx)} queries: metrics also given as mean and spread "
                         f"over {k} folds of link clusters")

    # duplicate decision and the measured meaning of each label, per dense model
    dc = ev.duplicate
    missing_rf = [f for f in dc.related_fields if f not in d.tickets.columns]
    if missing_rf:
        raise TicketsimError(
            f"related field '{missing_rf[0]}' is not a column of tickets.parquet",
            file=d.tickets_path, field="evaluate.duplicate.related_fields",
            hint="carry it through data.columns.extra, or remove it from the list")
    topic = duplicates.topic_keys([d.tickets[f].fillna("").astype(str).to_numpy(dtype=object)
                                   for f in dc.related_fields])
    related_truth = ("same " + " and ".join(dc.related_fields) + ", or a known related link"
                     if topic is not None else "a known related link")
    qfold = folds.cluster_folds(d.query_idx, folds.clusters(d.n, d.edges), duplicates.LABEL_FOLDS)
    fold_of = {int(q): int(f) for q, f in zip(d.query_idx, qfold, strict=True)}
    decision: dict[str, Any] = {}
    for name in models:
        scorer = scorers[name]
        pairs = duplicates.build_pairs(
            rankings[name], d.relevant_kind, d.known, d.labelled_negatives,
            top_k=dc.hard_negatives, random_per_query=dc.random_negatives,
            n_corpus=d.n, seed=dc.seed, topic=topic)
        scores = scorer.pair_scores(pairs.a, pairs.b)
        decision[name] = duplicates.fit_decision(
            scores, pairs, target_precision=dc.target_precision,
            threshold_rule=dc.threshold_rule, seed=dc.seed, fold_of=fold_of,
            min_positives=dc.min_positives, related_truth=related_truth)

    # routing, per system with a full score row (not hybrid: it only scores query tickets)
    fields: dict[str, np.ndarray] = {}
    for f in ev.routing.fields:
        if f not in d.tickets.columns:
            raise TicketsimError(
                f"routing field '{f}' is not a column of tickets.parquet", file=d.tickets_path,
                field="evaluate.routing.fields",
                hint="carry it through data.columns.extra, or remove it from evaluate.routing.fields")
        fields[f] = d.tickets[f].fillna("").astype(str).to_numpy(dtype=object)
    route: dict[str, Any] = {}
    for name, scorer in scorers.items():
        if name == "hybrid":
            continue
        r = routing.evaluate_routing(scorer, d.split, fields, ev.routing.k)
        if r:
            route[name] = r
    if fields and not route:
        notes.append("routing skipped: no held-out ticket has a category")

    primary_system = ("finetuned" if "finetuned" in rankings else
                      max(systems, key=lambda s: systems[s][pm]))
    thr_model = "finetuned" if "finetuned" in decision else ("base" if "base" in decision else None)
    thresholds = None
    if thr_model and "error" not in decision[thr_model]:
        dd = decision[thr_model]
        thresholds = Thresholds(
            model_fingerprint=model_fingerprint(model_paths[thr_model]),
            duplicate=dd["duplicate_threshold"], related=dd["related_threshold"],
            calib_a=dd["calibration"]["a"], calib_b=dd["calibration"]["b"],
            model_path=run.rel(model_paths[thr_model]),
            details={"model": thr_model, "rule": dd["threshold_rule"],
                     "target_precision": ev.duplicate.target_precision,
                     "average_precision": dd["average_precision"],
                     "recall_at_threshold": dd["at_target_precision"]["recall"],
                     "best_f1": dd["best_f1"], "related_rule": dd["related_rule"]},
            labels=dd["labels"])
        if thr_model != "finetuned":
            notes.append("thresholds belong to the base model (no fine-tuned model)")

    tok_model = models.get("finetuned") or models.get("base")
    token_info = _token_lengths(tok_model, d.texts) if tok_model is not None else {}
    loss = read_loss_curve(run.stage_path("train") / "log.json")

    result: dict[str, Any] = {
        "primary_metric": pm,
        "encoder": ev.encoder,
        "metrics": qm.names,
        "systems": systems,
        "n_queries": len(d.query_idx),
        "n_candidates": d.n - 1,
        "skipped_queries": sum(d.skipped.values()),
        "skipped_reasons": d.skipped,
        "ci": ci,
        "primary_system": primary_system,
        "time_aware": ev.time_aware,
        "folds": fold_info,
        "duplicate": {n: {k: v for k, v in dd.items()
                          if k not in ("pr_curve", "scores_linked", "scores_unlinked")}
                      for n, dd in decision.items()},
        "thresholds_model": thr_model if thresholds else None,
        "routing": route,
        "notes": notes,
    }
    details = {
        "decision_curves": {n: {k: dd.get(k) for k in ("pr_curve", "scores_linked",
                                                        "scores_unlinked")}
                            for n, dd in decision.items()},
        "token_lengths": token_info,
        "loss_curve": loss,
        "worst_misses": _worst_misses(d, rankings[primary_system], ev.worst_misses),
        "worst_misses_system": primary_system,
        "per_query": {n: {m: [round(float(x), 5) for x in v] for m, v in pq.items()}
                      for n, pq in per_query.items()},
        "query_ids": [d.ids[q] for q in d.query_idx],
    }
    from ticketsim.evaluation.report import write_report

    with run.stage(STAGE, h, {"systems": list(systems)}) as tmp:
        atomic_write_json(tmp / METRICS, result)
        atomic_write_json(tmp / DETAILS, details)
        if thresholds is not None:
            thresholds.save(tmp / THRESHOLDS_FILE)
        write_report(tmp, result, details, reporter=reporter)
    reporter.log(f"evaluate: wrote {out_dir}")
    return StageResult(STAGE, False, out_dir, result)
