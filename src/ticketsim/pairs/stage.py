"""The pairs stage: ingest artifacts -> split, training / validation datasets, held-out links.

Order of work: split tickets (no held-out ticket may enter training), positives among
training tickets (links, category with keyword overlap, views), augmentation of the
training side, negatives mined among training tickets only, then the columns the
configured loss reads. Validation pairs are built the same way from validation tickets
only (never augmented). Fails before any heavy work when the loss needs negatives the
data cannot produce.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from ticketsim.config import Config
from ticketsim.data.ingest import IngestOutput
from ticketsim.errors import TicketsimError
from ticketsim.formats import FORMAT_HELP
from ticketsim.pairs import build, positives, report, splits
from ticketsim.pairs.augment import augment_pairs
from ticketsim.pairs.negatives import Corpus, mine
from ticketsim.pairs.negatives.labelled import labelled_negatives
from ticketsim.pairs.negatives.model import ModelMiner
from ticketsim.progress import NULL, Reporter
from ticketsim.retrieval.keyword import KeywordIndex
from ticketsim.rundir import Output, RunDir, StageOutput, StageResult, combine_hashes
from ticketsim.training.losses import required_format

STAGE = "pairs"


class NoTrainingExamples(TicketsimError):
    """The data gives no training example; a cold-start run then indexes with the base model."""


def loss_format(cfg: Config) -> tuple[str, int]:
    """(format, number of negatives) the configured loss wants; pairs when training is absent."""
    fmt, n = required_format(cfg.train)
    return str(fmt), int(n)


def inputs_hash(cfg: Config, run: RunDir) -> str:
    ingest = run.read_stamp("ingest") or {}
    return combine_hashes(ingest.get("inputs_hash", ""), cfg.pairs.fingerprint(), loss_format(cfg))


def _clusters(tickets: pd.DataFrame, pos: pd.DataFrame) -> tuple[dict[str, int], dict[str, set[str]]]:
    ids = tickets["id"].astype(str).tolist()
    labels = splits.link_clusters(ids, pos)
    sizes = pd.Series(labels).value_counts()
    clusters = {t: int(c) for t, c in zip(ids, labels, strict=True) if sizes[c] > 1}
    linked: dict[str, set[str]] = {}
    for a, b in zip(pos["a"].astype(str), pos["b"].astype(str), strict=True):
        linked.setdefault(a, set()).add(b)
        linked.setdefault(b, set()).add(a)
    return clusters, linked


def _scorers(cfg: Config, run: RunDir, corpus_texts: list[str], need_model: bool,
             reporter: Reporter) -> tuple[Any, Any]:
    bm25 = KeywordIndex(corpus_texts)  # the keyword engine search and evaluate use
    model = None
    if need_model:
        neg = cfg.pairs.negatives
        model = ModelMiner(neg.model, corpus_texts, batch_size=neg.batch_size,
                           cache_dir=run.path / "cache", reporter=reporter)
    return bm25, model


def build_split(
    tickets: pd.DataFrame, pos: pd.DataFrame, neg_links: pd.DataFrame, allowed: set[str],
    cfg: Config, run: RunDir, fmt: str, n: int, *, train: bool, reporter: Reporter,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """One dataset (training or validation) from the tickets in ``allowed`` only."""
    pc = cfg.pairs
    seed = pc.seed if train else pc.seed + 1
    pairs = positives.build_positives(tickets, pos, allowed, pc.positives, seed)
    if train and not pairs.empty:
        aug = augment_pairs(pairs, pc.augment, cache_dir=run.path / "cache", reporter=reporter)
        if not aug.empty:
            pairs = positives.finalise(pd.concat([pairs, aug]).to_dict("records"))
    texts = dict(zip(tickets["id"].astype(str), tickets["text"].fillna("").astype(str),
                     strict=True))
    neg_ids: list[list[str]] = []
    neg_src: list[list[str]] = []
    info: dict[str, Any] = {}
    if fmt in build.NEEDS_NEGATIVES and not pairs.empty:
        k = n if fmt == "ntuple" and n > 0 else pc.negatives.per_anchor
        sub = tickets[tickets["id"].astype(str).isin(allowed)]
        clusters, linked = _clusters(tickets, pos)
        corpus = Corpus(sub, clusters, linked)
        cats = dict(zip(tickets["id"].astype(str), tickets["category"].fillna("").astype(str),
                        strict=True))
        strat = pc.negatives.strategy
        want_hardness = train and pc.negatives.hardness_sample > 0
        bm25, model = _scorers(cfg, run, corpus.texts, strat == "model" or want_hardness, reporter)
        scorer = {"bm25": bm25, "model": model}.get(strat)
        lab = labelled_negatives(neg_links, allowed) if pc.negatives.labelled else {}
        neg_ids, neg_src = mine(pairs, corpus, scorer, pc.negatives, k, seed, labelled=lab,
                                categories=cats, reporter=reporter)
        if want_hardness:
            info["hardness"] = report.hardness(
                pairs, neg_ids, corpus, pc.negatives, bm25, model, pc.negatives.hardness_sample,
                seed, cats, reporter)
    answered: list[tuple[str, str]] = []
    if fmt in ("labelled", "scored") and pc.negatives.labelled:
        answered = [(a, b) for a, b in zip(neg_links["a"].astype(str), neg_links["b"].astype(str),
                                           strict=True) if a in allowed and b in allowed]
    data, side, dropped = build.to_format(pairs, neg_ids, texts, fmt, n, answered)
    info.update(report.counts(pairs, neg_ids, neg_src))
    info["label0_rows"] = int((side["source"] == "labelled-answer").sum())
    info["rows"] = int(len(data))
    info["dropped_without_negatives"] = dropped
    if train:
        info["examples"] = report.examples(pairs, neg_ids, texts, pc.examples, seed)
    return data, side, info


def run_pairs(cfg: Config, run: RunDir, *, force: bool = False, reporter: Reporter = NULL) -> StageResult:
    """Run the pairs stage into ``run``; skipped when ingest output and config are unchanged."""
    ingest = IngestOutput.read(run, STAGE)
    return run.produce(STAGE, inputs_hash(cfg, run), lambda: _build(cfg, run, ingest, reporter),
                       force=force, reporter=reporter)


def _build(cfg: Config, run: RunDir, ingest: IngestOutput, reporter: Reporter) -> Output:
    pc = cfg.pairs
    fmt, n = loss_format(cfg)
    tickets = ingest.tickets()
    tickets["id"] = tickets["id"].astype(str)
    links = ingest.links()
    pos = positives.positive_links(links, pc.positives)
    neg_links = positives.negative_links(links, pc.positives)
    build.check_can_produce(fmt, n, pc.negatives.strategy, len(neg_links), pc.negatives.labelled)

    split = splits.split_tickets(tickets, pos, pc.split)
    where = dict(zip(split["id"], split["split"], strict=True))
    by_split = {s: {t for t, w in where.items() if w == s} for s in ("train", "validation", "test")}
    reporter.log("pairs: split " + ", ".join(f"{s} {len(v)}" for s, v in by_split.items()))

    train, train_side, train_info = build_split(
        tickets, pos, neg_links, by_split["train"], cfg, run, fmt, n, train=True, reporter=reporter)
    if train.empty:
        raise NoTrainingExamples(
            f"no training examples: {len(by_split['train'])} training tickets gave no "
            f"{FORMAT_HELP[fmt]}", file=ingest.links_path,
            hint="add known links (data.links), map category columns, lower "
            "pairs.positives.min_keyword_overlap, or set pairs.positives.views: always",
        )
    val, val_side, val_info = build_split(
        tickets, pos, neg_links, by_split["validation"], cfg, run, fmt, n, train=False,
        reporter=reporter)
    test_links = splits.held_out_links(pos, split, "test")
    val_links = splits.held_out_links(pos, split, "validation")

    summary: dict[str, Any] = {
        "format": fmt, "num_negatives": n, "split_method": pc.split.method,
        "tickets": {s: len(v) for s, v in by_split.items()},
        "links": {"positive": int(len(pos)), "negative": int(len(neg_links)),
                  "test": int(len(test_links)), "validation": int(len(val_links))},
        "negative_strategy": pc.negatives.strategy if fmt in build.NEEDS_NEGATIVES else "unused",
        "train": train_info, "validation": val_info,
    }
    if test_links.empty:  # a cold start: say so before anyone trains for minutes (issue 17)
        summary["warnings"] = [
            "test 0: no held-out link, so evaluate can measure routing (categories) but not "
            "link retrieval or duplicate thresholds; add known links or label pairs "
            f"(`ticketsim label session --run-dir {run.path}`) and retrain"]
        reporter.log("pairs: " + summary["warnings"][0])
    if pc.split.method == "kfold":
        summary["fold"] = {"fold": pc.split.fold, "folds": pc.split.folds}
    frames = {SPLIT: split, TRAIN: train, VALIDATION: val, TRAIN_IDS: train_side,
              VALIDATION_IDS: val_side, TEST_LINKS: test_links, VALIDATION_LINKS: val_links}

    def save(tmp: Path) -> None:
        for name, frame in frames.items():
            frame.to_parquet(tmp / name, index=False)

    return Output(summary, save)


SPLIT, TRAIN, VALIDATION = "split.parquet", "train.parquet", "validation.parquet"
TRAIN_IDS, VALIDATION_IDS = "train_ids.parquet", "validation_ids.parquet"
TEST_LINKS, VALIDATION_LINKS = "test_links.parquet", "validation_links.parquet"


@dataclasses.dataclass(frozen=True)
class PairsOutput(StageOutput):
    """The pairs stage's artifacts, for the stages after it (no one else opens its files)."""

    STAGE = STAGE

    @property
    def train_path(self) -> Path:
        return self.folder / TRAIN

    @property
    def validation_path(self) -> Path:
        return self.folder / VALIDATION

    @property
    def split_path(self) -> Path:
        return self.folder / SPLIT

    @property
    def test_links_path(self) -> Path:
        return self.folder / TEST_LINKS

    @property
    def validation_links_path(self) -> Path:
        return self.folder / VALIDATION_LINKS

    def split(self) -> pd.DataFrame:
        """Every ticket's split (id, split: train / validation / test)."""
        return pd.read_parquet(self.split_path, columns=["id", "split"])

    def trained_on_all_links(self) -> bool:
        """True when this pairs stage held nothing out (``ticketsim run`` cross-fits)."""
        return self.summary.get("split_method") == "all"
