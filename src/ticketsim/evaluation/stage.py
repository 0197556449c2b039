"""The evaluate stage: held-out links -> summary.json (the result), champion.json, thresholds.json, report.

Every system sees the same queries (held-out tickets with a true link) against the
whole history, the query itself always excluded. Retrieval is scored through the very
searcher ``search`` and ``serve`` use (:class:`ticketsim.index.search.Searcher` over a
temporary index of the same tickets built by the index stage's own code, one per model),
so a system's ranking here is what ``ticketsim search --id`` returns for that query.
Systems: keyword (``bm25``), dense with the base / fine-tuned model / extra folders,
hybrid with each model. The primary metric comes with paired bootstrap intervals; the
champion (:mod:`ticketsim.evaluation.champion`) is the system everything serves.

The stage runs in steps, each returning a typed value: :func:`collect` (data, embeddings,
rankings, per-query metrics, duplicate pairs, routing of one run or cross-fitting fold)
and :func:`summarise` (one or several collections pooled -> :class:`EvaluationResult`);
renderers (terminal, markdown, HTML) read the result.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ticketsim.config import LEAD_CANDIDATE, Config
from ticketsim.data.ingest import IngestOutput
from ticketsim.errors import TicketsimError
from ticketsim.evaluation import bootstrap, champion, crossfit, duplicates, folds, metrics, routing
from ticketsim.evaluation.coldstart import evaluate_routing_only
from ticketsim.evaluation.dense import DenseScorer, resolve_encoder
from ticketsim.evaluation.report import write_report
from ticketsim.evaluation.result import EvaluationResult
from ticketsim.index.routing import age_order, fields_of, routing_lead
from ticketsim.index.search import Searcher
from ticketsim.index.stage import build_index, ticket_meta
from ticketsim.inference import encoder_for
from ticketsim.inference.lead import add_lead
from ticketsim.models import model_fingerprint, resolve_model
from ticketsim.pairs.stage import PairsOutput
from ticketsim.pipeline import run_stage
from ticketsim.progress import NULL, Reporter
from ticketsim.retrieval.keyword import KeywordRows
from ticketsim.rundir import Output, RunDir, StageResult, atomic_write_json, combine_hashes
from ticketsim.thresholds import FILE as THRESHOLDS_FILE
from ticketsim.thresholds import Thresholds
from ticketsim.training.card import add_evaluation
from ticketsim.training.stage import TrainOutput

STAGE = "evaluate"
BASELINES = ("bm25", "base")
DETAILS = "details.json"
NO_LINK = "held-out ticket without a known link"
CHAMPION = champion.FILE


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

    def __init__(self, run: RunDir, time_aware: bool, *, protocol: str = "default",
                 window_days: int | None = None) -> None:
        benchmark = protocol == "benchmark"  # newer ticket of a duplicate pair, earlier candidates
        time_aware = time_aware or benchmark
        self.window_days = window_days if time_aware else None
        ingest = IngestOutput.read(run, STAGE)
        pairs = PairsOutput.read(run, STAGE)
        self.tickets_path = ingest.tickets_path
        t = _read_parquet(self.tickets_path, ["id", "text"])
        self.tickets = t.reset_index(drop=True)
        self.ids = [str(x) for x in t["id"]]
        self.texts = [str(x) for x in t["text"].fillna("")]
        self.index = {tid: i for i, tid in enumerate(self.ids)}
        self.n = len(self.ids)

        split = _read_parquet(pairs.split_path, ["id", "split"])
        split_of = dict(zip(split["id"].astype(str), split["split"].astype(str), strict=True))
        self.split = np.array([split_of.get(i, "train") for i in self.ids], dtype=object)

        self.test_links_path = pairs.test_links_path
        tl = _read_parquet(self.test_links_path, ["a", "b"])
        if "label" in tl.columns:
            tl = tl[tl["label"].fillna(1).astype(int) == 1]
        kinds = tl["kind"].fillna("duplicate").astype(str) if "kind" in tl.columns else None
        rel: dict[int, dict[int, str]] = {}
        # why held-out tickets (or links) are not queries: ids, so that cross-fitting's folds
        # pool them by union and each is counted once
        self.skipped: dict[str, set[str]] = {}
        for row, (a, b) in enumerate(zip(tl["a"].astype(str), tl["b"].astype(str), strict=True)):
            if a not in self.index or b not in self.index or a == b:
                self.skipped.setdefault("held-out link to a ticket not in this run", set()).add(
                    f"{a} -> {b}")
                continue
            k = "related" if kinds is not None and kinds.iloc[row] == "related" else "duplicate"
            if benchmark and k == "related":
                continue
            ia, ib = self.index[a], self.index[b]
            rel.setdefault(ia, {})[ib] = k
            if self.split[ib] == "test":
                rel.setdefault(ib, {})[ia] = k
        no_link = {self.ids[i] for i in np.flatnonzero(self.split == "test") if i not in rel}
        if no_link:
            self.skipped[NO_LINK] = no_link

        self.created: np.ndarray | None = None
        if time_aware:
            if "created" not in t.columns or t["created"].isna().all():
                raise TicketsimError(
                    f"evaluate.{'protocol: benchmark' if benchmark else 'time_aware'} needs "
                    "creation dates, and tickets have none",
                    file=self.tickets_path, field="created",
                    hint="map data.columns.created in the config, or set evaluate.time_aware: false",
                )
            created = pd.to_datetime(t["created"])
            nat = created.isna().to_numpy()
            vals = created.astype("int64").to_numpy().copy()
            vals[nat] = np.iinfo(np.int64).max  # undated tickets are never "before" anything
            self.created = vals
            unit = pd.Timedelta(1, unit=getattr(created.dt, "unit", "ns"))  # stamps' unit: us, ns
            window = None if self.window_days is None else pd.Timedelta(days=self.window_days) // unit
            why = (f"{'benchmark protocol' if benchmark else 'time-aware'}: no true link created "
                   f"before the query{'' if window is None else f' (within {window_days} days)'}")
            for q in list(rel):
                keep = {r: k for r, k in rel[q].items() if vals[r] < vals[q]
                        and (window is None or vals[q] - vals[r] <= window)}
                if keep:
                    rel[q] = keep
                else:
                    del rel[q]
                    self.skipped.setdefault(why, set()).add(self.ids[q])
        self.query_idx = sorted(rel, key=lambda i: self.ids[i])
        self.relevant_kind = [rel[q] for q in self.query_idx]
        self.relevant = [set(r) for r in self.relevant_kind]

        lp = ingest.links_path
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


def eval_data(run: RunDir, ev: Any) -> EvalData:
    """The held-out queries under ``evaluate``'s protocol (time_aware, protocol, window)."""
    return EvalData(run, ev.time_aware, protocol=ev.protocol, window_days=ev.protocol_window_days)


# ------------------------------------------------------------------------ helpers
def inputs_hash(cfg: Config, run: RunDir) -> str:
    pairs = run.read_stamp("pairs") or {}
    train = run.read_stamp("train") or {}
    # search and index settings shape the rankings scored here
    return combine_hashes(pairs.get("inputs_hash", ""), train.get("inputs_hash", ""),
                          cfg.evaluate.fingerprint(), cfg.train.base_model,
                          cfg.search.fingerprint(), cfg.index.fingerprint())


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


def _worst_misses(d: EvalData, ranking: metrics.Ranking, n: int) -> list[dict[str, Any]]:
    rows = []
    for i, q in enumerate(ranking.query_idx):
        ranks = ranking.rel_rank[i]
        if not ranks:
            continue
        best_rel, best_rank = min(ranks.items(), key=lambda kv: kv[1])
        rows.append((best_rank, i, q, best_rel))
    unranked = [(len(ranking.top[i]) + 1, i, q, min(d.relevant[i], key=lambda r: d.ids[r]))
                for i, q in enumerate(ranking.query_idx) if not ranking.rel_rank[i]]
    rows += unranked
    rows.sort(key=lambda r: (-r[0], d.ids[r[2]]))
    out = []
    for rank, i, q, r in rows[:n]:
        if rank == 1:
            break
        above = [{"id": d.ids[c], "text": d.texts[c][:300], "score": round(s, 4)}
                 for c, s in ranking.top[i][: min(3, rank - 1)]]
        out.append({"query_id": d.ids[q], "query": d.texts[q][:300], "true_id": d.ids[r],
                    "true_text": d.texts[r][:300], "rank": int(rank), "above": above,
                    "beyond_top": rank > len(ranking.top[i])})
    return out


# ------------------------------------------------------------------------ typed steps
@dataclasses.dataclass
class DenseModel:
    """One embedding model under evaluation: its folder and every ticket's embedding."""

    name: str
    path: str
    embeddings: np.ndarray
    model: Any  # the loaded encoder (its tokenizer feeds the token-length plot)
    backend: str = "torch"  # the inference backend that embedded it (index.encoder, resolved)
    lead_weight: float = 0.0  # how it read the tickets (index.lead_weight; see embed_models)
    served_as: str = ""  # the model the index would load: base, finetuned (default: the name)
    encoder: Any = None  # the Encoder that embedded it (cached): routing reads its leads with it

    @property
    def serves(self) -> str:
        return self.served_as or self.name


@dataclasses.dataclass
class Collected:
    """What one run (or one cross-fitting fold) yields before pooling."""

    data: EvalData
    models: dict[str, DenseModel]
    systems: dict[str, tuple[str, str | None]]  # name -> (mode, model)
    rankings: dict[str, metrics.Ranking]
    per_query: dict[str, dict[str, np.ndarray]]
    pairs: dict[str, tuple[duplicates.PairSet, np.ndarray]]  # model -> labelled pairs, cosines
    routing: dict[str, Any]
    notes: list[str]
    fold_of: dict[int, int]  # query -> fold of link clusters (cross-fitted label precision)
    related_truth: str


def system_specs(ev_systems: Sequence[str], models: dict[str, DenseModel],
                 notes: list[str]) -> dict[str, tuple[str, str | None]]:
    """The systems to rank: name -> (search mode, model name; None for keyword)."""
    specs: dict[str, tuple[str, str | None]] = {}
    if "bm25" in ev_systems:
        specs["bm25"] = ("keyword", None)
    for name in models:
        specs[name] = ("dense", name)
    if "hybrid" in ev_systems:
        if "finetuned" in models:
            specs["hybrid"] = ("hybrid", "finetuned")
            if "base" in models:
                specs["hybrid-base"] = ("hybrid", "base")
        elif "base" in models:
            specs["hybrid"] = ("hybrid", "base")
            notes.append("hybrid fuses BM25 with the base model (no fine-tuned model)")
        else:
            notes.append("hybrid skipped: no dense model to fuse with BM25")
    return specs


def embed_models(cfg: Config, run: RunDir, d: EvalData, notes: list[str],
                 reporter: Reporter) -> dict[str, DenseModel]:
    """Embed every ticket with each dense model (cached: reruns embed nothing twice)."""
    ev = cfg.evaluate
    wanted: list[tuple[str, str]] = []
    if "base" in ev.systems:
        wanted.append(("base", resolve_model(cfg.train.base_model)))
    trained = TrainOutput.find(run)
    if "finetuned" in ev.systems:
        if trained is not None and trained.model_dir is not None:
            wanted.append(("finetuned", str(trained.model_dir)))
        else:
            notes.append("the train stage has not run: no fine-tuned model was evaluated")
    taken = {"bm25", "base", "finetuned", "hybrid", "hybrid-base"}
    for p in ev.extra_models:
        name = _model_name(Path(p), taken)
        taken.add(name)
        wanted.append((name, resolve_model(p)))
    if not wanted and "bm25" in ev.systems:  # keyword alone still needs an index, so a model
        wanted.append(("base", resolve_model(cfg.train.base_model)))
    out: dict[str, DenseModel] = {}
    for name, path in wanted:
        backend = resolve_encoder(cfg, run, path, d.texts, notes, name, reporter)
        out[name] = _embed_model(cfg, run, d, name, path, backend, cfg.index.reading(), reporter)
    # index.lead_weight auto: the model the default serves, also read with the lead view; the
    # champion rule decides on these links whether the index reads that way
    src = next((n for n in ("finetuned", "base") if n in out), None)
    if cfg.index.lead_weight == "auto" and src is not None and (src != "base"
                                                                or "base" in ev.systems):
        m = out[src]
        out[f"{src}+lead"] = _embed_model(cfg, run, d, f"{src}+lead", m.path, m.backend,
                                          cfg.index.reading(LEAD_CANDIDATE), reporter, serves=src)
    return out


def _embed_model(cfg: Config, run: RunDir, d: EvalData, name: str, path: str, backend: str,
                 reading: dict[str, Any], reporter: Reporter, serves: str = "") -> DenseModel:
    """Every ticket's embedding with one model, read as ``reading`` says (cached on disk)."""
    encoder = encoder_for(path, backend, cache_dir=run.path / "cache", **reading,
                          reporter=reporter)
    lead = f", lead view {reading['lead_weight']:g}" if reading["lead_weight"] else ""
    reporter.log(f"evaluate: embedding {len(d.texts)} tickets with {name} ({backend}{lead})")
    emb = encoder.encode(d.texts, cfg.evaluate.batch_size, reporter)
    return DenseModel(name, path, emb, getattr(encoder, "encoder", encoder), backend,
                      float(reading["lead_weight"]), serves, encoder)


def lead_reading(cfg: Config, d: EvalData, models: dict[str, DenseModel], name: str,
                 weight: float, reporter: Reporter) -> np.ndarray | None:
    """Every ticket as model ``name``'s router would read it with the lead at ``weight``
    (``index.routing_lead_weight``; None at 0, which it is for a model read with the lead
    view): the ``<name>+lead`` model's vectors when they are that reading, else the lead added
    to ``name``'s own by the encoder that made them (one pass over the leads, cached)."""
    if not weight:
        return None
    m, same = models[name], models.get(f"{name}+lead")
    if same is not None and same.lead_weight == weight:
        return same.embeddings
    reporter.log(f"evaluate: reading {name} with the lead view {weight:g} for routing")
    return add_lead(m.embeddings, d.texts, m.encoder, weight, cfg.evaluate.batch_size, reporter)


def rank_systems(cfg: Config, run: RunDir, d: EvalData, models: dict[str, DenseModel],
                 specs: dict[str, tuple[str, str | None]], keep: int,
                 reporter: Reporter) -> dict[str, metrics.Ranking]:
    """Rank every query with the Searcher over a temporary index per model (see module doc)."""
    icfg = cfg.index.model_copy(update={"qdrant_url": None, "embeddings": None})
    by_model: dict[str, list[str]] = {}
    for name, (_, model) in specs.items():
        by_model.setdefault(model or next(iter(models)), []).append(name)
    created = None
    if d.created is not None:
        stamps = pd.to_datetime(d.tickets["created"])
        created = [None if pd.isna(t) else t.to_pydatetime() for t in stamps]
    rankings: dict[str, metrics.Ranking] = {}
    run.path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".evaluate-index-", dir=run.path) as td:
        for model_name, names in by_model.items():
            m = models[model_name]
            folder = Path(td) / model_name
            meta = ticket_meta(cfg, icfg.read_as(m.lead_weight).model_copy(
                update={"encoder": m.backend}), d.tickets, int(m.embeddings.shape[1]), m.path)
            build_index(folder, meta, d.tickets, m.embeddings, icfg.save_every)
            searcher = Searcher(run, cfg, model=m.path, index_dir=folder)
            try:
                pos = dict(searcher.index.store.conn.execute(
                    "SELECT key, id FROM tickets WHERE deleted=0").fetchall())
                for name in names:
                    mode = specs[name][0]
                    top: list[list[tuple[int, float]]] = []
                    rel_rank: list[dict[int, int]] = []
                    for i, q in enumerate(reporter.track(d.query_idx, description=f"ranking {name}")):
                        filters = None
                        stamp = created[q] if created is not None else None
                        if stamp is not None:
                            filters = {"created_to": stamp}
                            if d.window_days is not None:
                                filters["created_from"] = stamp - timedelta(days=d.window_days)
                        ranked, _ = searcher.rank(ticket_id=d.ids[q], k=keep, mode=mode,
                                                  filters=filters)
                        hits = [(d.index[pos[key]], float(s)) for key, s in ranked]
                        top.append(hits)
                        rel_rank.append({c: r for r, (c, _) in enumerate(hits, start=1)
                                         if c in d.relevant[i]})
                    rankings[name] = metrics.Ranking(name, list(d.query_idx), top, rel_rank)
            finally:
                searcher.close()
    return {n: rankings[n] for n in specs}


def collect(cfg: Config, run: RunDir, reporter: Reporter = NULL,
            d: EvalData | None = None) -> Collected:
    """Rankings, per-query metrics, duplicate pairs and routing of one run's held-out links."""
    ev = cfg.evaluate
    d = d or eval_data(run, ev)
    notes: list[str] = []
    if not d.query_idx:
        raise TicketsimError(
            "no held-out ticket has a true link, so there is nothing to evaluate",
            file=d.test_links_path,
            hint="add known links (data.links) or raise pairs.split.test_fraction",
        )
    reporter.log(f"evaluate: {len(d.query_idx)} queries against {d.n} tickets")
    keep = max(metrics.MAP_K, max(ev.k_values), ev.duplicate.hard_negatives + 1)
    models = embed_models(cfg, run, d, notes, reporter)
    specs = system_specs(ev.systems, {n: m for n, m in models.items()
                                      if n != "base" or "base" in ev.systems}, notes)
    if not specs:
        raise TicketsimError("no system to evaluate", field="evaluate.systems",
                             hint="list at least one of bm25, base, finetuned, hybrid")
    rankings = rank_systems(cfg, run, d, models, specs, keep, reporter)
    qm = metrics.QueryMetrics(d.ids, ev.k_values)
    per_query = {name: qm.table(r, d.relevant) for name, r in
                 reporter.track(list(rankings.items()), description="metrics")}

    # duplicate decision inputs and the measured meaning of each label, per dense model
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
    pairs: dict[str, tuple[duplicates.PairSet, np.ndarray]] = {}
    for name, m in models.items():
        if name not in rankings:
            continue
        ps = duplicates.build_pairs(
            rankings[name], d.relevant_kind, d.known, d.labelled_negatives,
            top_k=dc.hard_negatives, random_per_query=dc.random_negatives,
            n_corpus=d.n, seed=dc.seed, topic=topic)
        pairs[name] = (ps, DenseScorer(name, m.embeddings, m.path).pair_scores(ps.a, ps.b))

    fields: dict[str, np.ndarray] = {}
    for f in ev.routing.fields:
        if f not in d.tickets.columns:
            raise TicketsimError(
                f"routing field '{f}' is not a column of tickets.parquet", file=d.tickets_path,
                field="evaluate.routing.fields",
                hint="carry it through data.columns.extra, or remove it from evaluate.routing.fields")
        fields[f] = d.tickets[f].fillna("").astype(str).to_numpy(dtype=object)
    route: dict[str, Any] = {}
    if fields:  # kNN routing: a classification over full score rows, not a search ranking
        scorers: dict[str, Any] = {n: DenseScorer(n, m.embeddings, m.path)
                                   for n, m in models.items() if n in rankings}
        if "bm25" in rankings:
            scorers = {"bm25": KeywordRows(d.texts), **scorers}
        split = routing.capped_split(d.split, ev.routing.max_tickets, ev.routing.seed)
        served_fields = fields_of(d.tickets, list(cfg.index.routing_fields))
        for name, scorer in scorers.items():
            r = routing.evaluate_routing(scorer, split, fields, ev.routing.k)
            if r:
                route[name] = r
            if name != "bm25" and cfg.index.routing:  # what search suggests: the router
                m = models[name]
                w = routing_lead(cfg.index, m.lead_weight)
                # fitted on the fields the index routes (its reading is chosen over all of
                # them), scored on evaluate's
                r = routing.evaluate_router(m.embeddings, d.texts, split, served_fields, cfg.index,
                                            age_order(d.tickets), lead_reading(
                                                cfg, d, models, name, w, reporter), w,
                                            report=list(fields))
                if r:
                    route[f"{name} (suggestion)"] = r
        if not route:
            notes.append("routing skipped: no held-out ticket has a category")
    return Collected(d, models, specs, rankings, per_query, pairs, route, notes, fold_of,
                     related_truth)


def _concat_pairs(sets: list[duplicates.PairSet]) -> duplicates.PairSet:
    """One PairSet from several (cross-fitting folds share the corpus, so indices agree)."""
    if len(sets) == 1:
        return sets[0]
    out: dict[str, Any] = {}
    for f in dataclasses.fields(duplicates.PairSet):
        vals = [getattr(s, f.name) for s in sets]
        if any(v is None for v in vals):
            out[f.name] = None
        elif isinstance(vals[0], np.ndarray):
            out[f.name] = np.concatenate(vals)
        else:
            out[f.name] = [x for v in vals for x in v]
    return duplicates.PairSet(**out)


def _pool_routing(parts: list[Collected], bs: Any) -> dict[str, Any]:
    """Routing of one part, or n-weighted means over cross-fitting folds; each row with its
    paired difference to the base model's row (``vs_base``)."""
    if len(parts) == 1:
        return routing.paired_vs_base(parts[0].routing, bs.samples, bs.seed, bs.confidence)
    out: dict[str, Any] = {}
    for system in parts[0].routing:
        for field in parts[0].routing[system]:
            rows = [r for p in parts if (r := p.routing.get(system, {}).get(field))]
            n = sum(r["n"] for r in rows)
            row = out.setdefault(system, {})[field] = {
                "accuracy": sum(r["accuracy"] * r["n"] for r in rows) / n,
                "macro_f1": sum(r["macro_f1"] * r["n"] for r in rows) / n,
                "n": n, "classes": max(r["classes"] for r in rows), "k": rows[0]["k"],
                # folds hold out disjoint tickets, so the concatenations line up with the
                # base's exactly when both were scored in the same folds
                "_tickets": np.concatenate([r["_tickets"] for r in rows]),
                "_correct": np.concatenate([r["_correct"] for r in rows])}
            weights = [r["lead_weight"] for r in rows if "lead_weight" in r]  # suggestion rows
            if weights:  # one weight, or each fold's when the folds' routers chose differently
                row["lead_weight"] = weights[0] if len(set(weights)) == 1 else weights
    return routing.paired_vs_base(out, bs.samples, bs.seed, bs.confidence)


def summarise(cfg: Config, run: RunDir, parts: list[Collected], *,
              cross: dict[str, Any] | None = None) -> tuple[EvaluationResult, dict[str, Any],
                                                                Thresholds | None]:
    """Pool one run (or k cross-fitting folds) into the result, details and thresholds."""
    ev = cfg.evaluate
    pm, bs = ev.primary_metric, ev.bootstrap
    notes = [n for p in parts for n in p.notes if n not in ()]
    notes = list(dict.fromkeys(notes))
    names = [s for s in parts[0].per_query if all(s in p.per_query for p in parts)]
    per_query = {s: {m: np.concatenate([p.per_query[s][m] for p in parts])
                     for m in parts[0].per_query[s]} for s in names}
    query_ids = [p.data.ids[q] for p in parts for q in p.data.query_idx]
    part_of = [i for i, p in enumerate(parts) for _ in p.data.query_idx]  # cross-fitting folds
    n_q = len(query_ids)
    systems = {name: metrics.summarize(pq) for name, pq in per_query.items()}
    ci: dict[str, Any] = {"per_system": {
        name: bootstrap.interval(pq[pm], bs.samples, bs.seed, bs.confidence)
        for name, pq in per_query.items()}}
    base_present = [b for b in BASELINES if b in systems]
    best_baseline = max(base_present, key=lambda b: systems[b][pm]) if base_present else None
    ci["baseline"], ci["vs_baseline"] = best_baseline, {}
    if best_baseline:
        for name in systems:
            if name not in BASELINES:
                ci["vs_baseline"][name] = bootstrap.paired_difference(
                    per_query[name][pm], per_query[best_baseline][pm], bs.samples, bs.seed,
                    bs.confidence)

    # cross-fitting serves the model trained on all links, not a fold's
    served_ft = str(TrainOutput.read(run, STAGE).model_dir) if cross is not None else None
    champ = champion.choose(per_query, pm, cfg.search.reference_mode, bs.samples, bs.seed, bs.confidence)
    if champ is not None:
        final_paths = {n: m.path for n, m in parts[-1].models.items()}
        if served_ft and "finetuned" in final_paths:
            final_paths["finetuned"] = served_ft
        model_abs = final_paths.get(champ["model"]) if champ["model"] else None
        champ["model_path"] = run.rel(model_abs) if model_abs else None  # index reads it
        champ["crossfit"] = cross is not None
        read_by = parts[-1].models.get(parts[0].systems[champ["system"]][1] or "")
        champ["lead_weight"] = read_by.lead_weight if read_by else 0.0  # index.lead_weight auto
        if cross is not None:  # the rule's honest score: each fold served what the others chose
            oof = champion.out_of_fold(per_query, part_of, pm, cfg.search.reference_mode,
                                       bs.samples, bs.seed, bs.confidence)
            if oof is not None:
                champ["out_of_fold"] = {"value": oof["value"], "chosen": oof["chosen"]}
    primary_system = (champ["system"] if champ else
                      "finetuned" if "finetuned" in systems else max(systems, key=lambda s: systems[s][pm]))

    fold_info: dict[str, Any] | None = None
    d0 = parts[0].data
    if cross is None and n_q < ev.crossfit_min_queries:  # too few, and not cross-fitted
        labels = folds.clusters(d0.n, d0.edges)
        k = min(ev.folds.k, len({int(labels[q]) for q in d0.query_idx}))
        if k >= 2:
            query_fold = folds.cluster_folds(d0.query_idx, labels, k)
            fold_info = {"k": k, "systems": {n: metrics.fold_spread(pq, query_fold)
                                             for n, pq in per_query.items()}}
            notes.append(f"only {n_q} queries: metrics also given as mean and spread "
                         f"over {k} folds of link clusters")

    decision: dict[str, Any] = {}
    for name in parts[0].pairs:
        if not all(name in p.pairs for p in parts):
            continue
        ps = _concat_pairs([p.pairs[name][0] for p in parts])
        scores = np.concatenate([p.pairs[name][1] for p in parts])
        fold_of = {q: f for p in parts for q, f in p.fold_of.items()}
        decision[name] = duplicates.fit_decision(
            scores, ps, target_precision=ev.duplicate.target_precision,
            threshold_rule=ev.duplicate.threshold_rule, seed=ev.duplicate.seed, fold_of=fold_of,
            min_positives=ev.duplicate.min_positives, related_truth=parts[0].related_truth)

    # thresholds belong to the model the index will embed with, read its way: the champion's
    want = ((champ and parts[0].systems[champ["system"]][1]) or (champ or {}).get("model")
            or ("finetuned" if "finetuned" in decision else "base"))
    thr_model = want if want in decision else ("finetuned" if "finetuned" in decision else
                                               "base" if "base" in decision else None)
    thresholds = None
    if thr_model and "error" not in decision[thr_model]:
        dd = decision[thr_model]
        path = (run.resolve(champ["model_path"]) if thr_model == want and champ
                and champ.get("model_path") else None)
        served_as = parts[-1].models[thr_model].serves
        path = path or (served_ft if served_ft and served_as == "finetuned"
                        else parts[-1].models[thr_model].path)
        thresholds = Thresholds(
            model_fingerprint=model_fingerprint(path),
            duplicate=dd["duplicate_threshold"], related=dd["related_threshold"],
            calib_a=dd["calibration"]["a"], calib_b=dd["calibration"]["b"],
            model_path=run.rel(path), labels=dd["labels"],
            details={"model": thr_model, "lead_weight": parts[-1].models[thr_model].lead_weight,
                     "rule": dd["threshold_rule"],
                     "target_precision": ev.duplicate.target_precision,
                     "average_precision": dd["average_precision"],
                     "recall_at_threshold": dd["at_target_precision"]["recall"],
                     "best_f1": dd["best_f1"], "related_rule": dd["related_rule"]})
        if thr_model != "finetuned":
            notes.append(f"thresholds belong to the {thr_model} model")

    skipped = pooled_skips(parts)
    result = EvaluationResult(
        primary_metric=pm, encoder=cfg.index.encoder, metrics=metrics.metric_names(ev.k_values),
        encoders={n: m.backend for n, m in parts[-1].models.items()},
        systems=systems,
        modes={n: {"mode": mode, "model": model} for n, (mode, model) in parts[0].systems.items()
               if n in systems},
        n_queries=n_q, n_candidates=d0.n - 1, skipped_queries=sum(skipped.values()),
        skipped_reasons=skipped, ci=ci, primary_system=primary_system,
        time_aware=ev.time_aware or ev.protocol == "benchmark",
        folds=fold_info,
        duplicate={n: {k: v for k, v in dd.items()
                       if k not in ("pr_curve", "scores_linked", "scores_unlinked")}
                   for n, dd in decision.items()},
        thresholds_model=thr_model if thresholds else None, routing=_pool_routing(parts, bs),
        champion=champ, crossfit=cross, notes=notes)

    tok_model = parts[-1].models.get("finetuned") or parts[-1].models.get("base")
    misses = sorted((m for p in parts if primary_system in p.rankings
                     for m in _worst_misses(p.data, p.rankings[primary_system], ev.worst_misses)),
                    key=lambda m: (-m["rank"], m["query_id"]))[: ev.worst_misses]
    details = {
        "decision_curves": {n: {k: dd.get(k) for k in ("pr_curve", "scores_linked",
                                                        "scores_unlinked")}
                            for n, dd in decision.items()},
        "token_lengths": _token_lengths(tok_model.model, d0.texts) if tok_model else {},
        "loss_curve": trained.loss_curve() if (trained := TrainOutput.find(run)) else [],
        "worst_misses": misses,
        "worst_misses_system": primary_system,
        "per_query": {n: {m: [round(float(x), 5) for x in v] for m, v in pq.items()}
                      for n, pq in per_query.items()},
        "query_ids": query_ids,
        "query_fold": part_of,
        "rankings": {n: [[p.data.ids[c] for c, _ in hits[:10]] for p in parts
                         for hits in p.rankings[n].top] for n in names},
    }
    return result, details, thresholds


def pooled_skips(parts: list[Collected]) -> dict[str, int]:
    """Why held-out tickets are not queries, each ticket counted once over all folds.

    Cross-fitting holds out every ticket in some fold; a ticket that is a query in one
    fold is not skipped, and one skipped in several folds counts once."""
    queries = {p.data.ids[q] for p in parts for q in p.data.query_idx}
    out: dict[str, set[str]] = {}
    for p in parts:
        for reason, ids in p.data.skipped.items():
            out.setdefault(reason, set()).update(ids)
    return {reason: len(ids - queries) for reason, ids in out.items() if ids - queries}


def output(run: RunDir, result: EvaluationResult, details: dict[str, Any],
           thresholds: Thresholds | None, reporter: Reporter = NULL) -> Output:
    """The stage's files: details.json, champion.json, thresholds.json and the report;
    the result itself is the stage's summary.json."""

    def save(tmp: Path) -> None:
        atomic_write_json(tmp / DETAILS, details)
        if result.champion is not None:
            atomic_write_json(tmp / CHAMPION, result.champion)
        if thresholds is not None:
            thresholds.save(tmp / THRESHOLDS_FILE)
        write_report(tmp, result, details, reporter=reporter)

    return Output(result.to_dict(), save)


def with_extra_models(cfg: Config, models: Sequence[str | Path]) -> Config:
    """``cfg`` comparing ``models`` too (``evaluate --model``, a run-time choice): a copy, so no
    saved config grows with each run, and a folder listed twice is compared once."""
    extra: dict[Path, Path] = {}
    for p in [*cfg.evaluate.extra_models, *models]:
        extra.setdefault(Path(p).expanduser().resolve(), Path(p))
    if len(extra) == len(cfg.evaluate.extra_models) and not models:
        return cfg
    ev = cfg.evaluate.model_copy(update={"extra_models": list(extra.values())})
    return cfg.model_copy(update={"evaluate": ev})


def run_evaluate(
    cfg: Config, run: RunDir, *, force: bool = False, reporter: Reporter = NULL,
    extra_models: Sequence[str | Path] = (),
) -> StageResult:
    """Evaluate every available system on the held-out links and write the result, champion, report;
    ``extra_models``: further model folders compared in this run only (the config is not changed)."""
    cfg = with_extra_models(cfg, extra_models)
    plan = crossfit.planned(run)
    h = inputs_hash(cfg, run)
    if plan is not None:
        h = combine_hashes(h, "crossfit", plan.k)

    def build() -> Output:
        if plan is None:
            d = eval_data(run, cfg.evaluate)
            if not d.query_idx:  # cold start: no links yet, measure routing only (issue 17)
                return evaluate_routing_only(cfg, run, d, reporter=reporter)
            result, details, thresholds = summarise(cfg, run, [collect(cfg, run, reporter, d)])
        else:
            reporter.log(f"evaluate: cross-fitting, {plan.why}")
            parts, info = crossfit.run_folds(cfg, run, plan, run_stage=run_stage, collect=collect,
                                             force=force, reporter=reporter)
            result, details, thresholds = summarise(cfg, run, parts, cross=info)
        return output(run, result, details, thresholds, reporter)

    done = run.produce(STAGE, h, build, force=force, reporter=reporter)
    if not done.skipped:
        trained = TrainOutput.find(run)
        if trained is not None and trained.model_dir is not None:  # held-out numbers on the card
            add_evaluation(trained.model_dir, done.summary)
        reporter.log(f"evaluate: wrote {done.path}")
    return done
