"""The evaluate stage on a tiny hand-written run directory (random tiny model, no downloads)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evaluation_helpers import tiny_config, tiny_test_links, tiny_tickets, write_run

from ticketsim.errors import TicketsimError
from ticketsim.evaluation import stage as stage_mod
from ticketsim.evaluation.stage import run_evaluate
from ticketsim.models import model_fingerprint
from ticketsim.rundir import RunDir
from ticketsim.thresholds import Thresholds


@pytest.mark.config_keys("evaluate.systems", "evaluate.primary_metric", "evaluate.k_values")
def test_all_systems_side_by_side(tiny_run: RunDir, tiny_model_dir: Path) -> None:
    cfg = tiny_config(tiny_model_dir, primary_metric="ndcg@10", k_values=[1, 3])
    res = run_evaluate(cfg, tiny_run)
    m = tiny_run.summary("evaluate")
    assert m["primary_metric"] == "ndcg@10" and res.summary["primary_metric"] == "ndcg@10"
    # index.lead_weight auto: the fine-tuned model is also scored read with the lead view
    assert list(m["systems"]) == ["bm25", "base", "finetuned", "finetuned+lead", "hybrid",
                                  "hybrid-base"]
    assert set(m["systems"]["bm25"]) == {"recall@1", "recall@3", "mrr@10", "ndcg@10", "map@100"}
    assert m["n_queries"] == 10  # the held-out end of each test link
    assert m["ci"]["baseline"] in ("bm25", "base")
    assert set(m["ci"]["vs_baseline"]) == {"finetuned", "finetuned+lead", "hybrid", "hybrid-base"}
    assert m["modes"]["finetuned+lead"] == {"mode": "dense", "model": "finetuned+lead"}
    assert m["modes"]["hybrid-base"] == {"mode": "hybrid", "model": "base"}
    # BM25 on these word-overlap texts finds every held-out duplicate in the top 5
    assert m["systems"]["bm25"]["recall@3"] >= 0.9
    for f in ("report.md", "report.html", "metrics.png", "loss.png", "similarity.png",
              "precision_recall.png", "token_lengths.png", "thresholds.json"):
        assert (tiny_run.path / "evaluate" / f).is_file(), f
    only = run_evaluate(tiny_config(tiny_model_dir, systems=["bm25"]), tiny_run)
    assert list(only.summary["systems"]) == ["bm25"]
    again = run_evaluate(tiny_config(tiny_model_dir, systems=["bm25"]), tiny_run)
    assert again.skipped


def test_thresholds_file_is_stamped_with_the_finetuned_model(tiny_run: RunDir,
                                                              tiny_model_dir: Path) -> None:
    run_evaluate(tiny_config(tiny_model_dir), tiny_run)
    fp = model_fingerprint(tiny_run.path / "train" / "model")
    th = Thresholds.load(tiny_run.path / "evaluate" / "thresholds.json", expect_fingerprint=fp)
    assert th.related <= th.duplicate
    assert 0.0 <= th.probability(th.duplicate) <= 1.0
    with pytest.raises(TicketsimError):
        Thresholds.load(tiny_run.path / "evaluate" / "thresholds.json", expect_fingerprint="x")


def test_without_train_stage_evaluates_what_exists(tmp_path: Path, tiny_model_dir: Path) -> None:
    run = write_run(tmp_path / "r", tiny_tickets(), tiny_test_links(), None)
    res = run_evaluate(tiny_config(tiny_model_dir), run)
    assert "finetuned" not in res.summary["systems"]
    assert any("train stage has not run" in n for n in res.summary["notes"])
    # thresholds are fitted on the champion's model, which can only be the base model (read
    # plainly or, under lead_weight auto, with the lead view)
    lead = res.summary["champion"]["system"] == "base+lead"
    assert res.summary["thresholds_model"] == ("base+lead" if lead else "base")


def test_queries_without_links_are_skipped_and_counted(tmp_path: Path, tiny_model_dir: Path) -> None:
    links = tiny_test_links()
    run = write_run(tmp_path / "r", tiny_tickets(), links, None)
    split = pd.read_parquet(run.path / "pairs" / "split.parquet")
    split.loc[split["id"].isin(["T003", "T013"]), "split"] = "test"  # held out, no link
    split.to_parquet(run.path / "pairs" / "split.parquet")
    res = run_evaluate(tiny_config(tiny_model_dir, systems=["bm25"], crossfit_min_queries=0),
                       run, force=True)
    assert res.summary["skipped_queries"] == 2
    assert res.summary["skipped_reasons"] == {"held-out ticket without a known link": 2}
    assert res.summary["folds"] is None  # crossfit_min_queries 0: no query count is "too few"
    md = (run.path / "evaluate" / "report.md").read_text()
    assert "10 queries (held-out tickets with a known link)" in md
    assert "2 held-out tickets are not queries, each counted once" in md


def test_cross_fitted_skips_count_each_ticket_once() -> None:
    """Folds pool skipped tickets by id: one held out in two folds counts once, and one
    that is a query in another fold is no skip at all."""
    from types import SimpleNamespace

    def part(queries: list[str], no_link: set[str]) -> object:
        ids = ["A", "B", "C", "D", "E"]
        data = SimpleNamespace(ids=ids, query_idx=[ids.index(q) for q in queries],
                               skipped={stage_mod.NO_LINK: no_link})
        return SimpleNamespace(data=data)

    parts = [part(["A"], {"C", "D"}), part(["B", "C"], {"D", "E"})]
    assert stage_mod.pooled_skips(parts) == {stage_mod.NO_LINK: 2}  # D and E; C was a query


@pytest.mark.config_keys("evaluate.time_aware")
def test_time_aware_drops_links_to_newer_tickets(tmp_path: Path, tiny_model_dir: Path) -> None:
    t = tiny_tickets()
    # held-out tickets are the newest, except T000, the oldest of all: its links are newer
    t.loc[t["id"].str.endswith("0"), "created"] = pd.Timestamp("2025-01-01")
    t.loc[t["id"] == "T000", "created"] = pd.Timestamp("2000-01-01")
    run = write_run(tmp_path / "r", t, tiny_test_links(), None)
    res = run_evaluate(tiny_config(tiny_model_dir, systems=["bm25"], time_aware=True), run)
    plain = run_evaluate(tiny_config(tiny_model_dir, systems=["bm25"]), run, force=True)
    assert res.summary["time_aware"]
    assert res.summary["skipped_reasons"] == {
        "time-aware: no true link created before the query": 1}
    assert (res.summary["n_queries"], plain.summary["n_queries"]) == (9, 10)
    assert plain.summary["folds"]["k"] == 5  # 10 queries < crossfit_min_queries (50): spread


@pytest.mark.config_keys("evaluate.protocol", "evaluate.protocol_window_days")
def test_benchmark_protocol_queries_newer_ticket_against_earlier_ones(
        tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ends of each duplicate pair held out: the default protocol asks both (and the
    related links), the benchmark one only the newer end, through Searcher.rank's filters."""
    from datetime import timedelta

    from ticketsim.config import config_from_dict
    from ticketsim.errors import ConfigError

    t = tiny_tickets()
    created = dict(zip(t["id"], pd.to_datetime(t["created"]), strict=True))
    for i in range(5):  # topics 0-4: the duplicate comes 3 days after its pair (not 10)
        t.loc[t["id"] == f"T{i:02d}1", "created"] = created[f"T{i:02d}0"] + pd.Timedelta(days=3)
    run = write_run(tmp_path / "r", t, tiny_test_links(), None)
    split = pd.read_parquet(run.path / "pairs" / "split.parquet")
    split.loc[split["id"].str.endswith("1"), "split"] = "test"
    split.to_parquet(run.path / "pairs" / "split.parquet")
    calls: list[tuple[str, dict]] = []
    real_rank = stage_mod.Searcher.rank

    def rank(self, text=None, **kw):  # type: ignore[no-untyped-def]
        calls.append((kw["ticket_id"], dict(kw["filters"] or {})))
        return real_rank(self, text, **kw)

    monkeypatch.setattr(stage_mod.Searcher, "rank", rank)
    plain = run_evaluate(tiny_config(tiny_model_dir, systems=["base"]), run, force=True)
    assert plain.summary["n_queries"] == 20 and not plain.summary["time_aware"]
    assert all(f == {} for _, f in calls)

    calls.clear()
    res = run_evaluate(tiny_config(tiny_model_dir, systems=["base"], protocol="benchmark"), run,
                       force=True)
    assert res.summary["n_queries"] == 10 and res.summary["time_aware"]
    assert res.summary["skipped_reasons"] == {
        "benchmark protocol: no true link created before the query": 10}
    # each query ranked twice: base, and base read with the lead view (index.lead_weight auto)
    assert sorted(q for q, _ in calls) == sorted([f"T{i:02d}1" for i in range(10)] * 2)
    t_created = {k: v.to_pydatetime() for k, v in
                 pd.to_datetime(t.set_index("id")["created"]).items()}
    assert all(f == {"created_to": t_created[q]} for q, f in calls)

    calls.clear()
    res = run_evaluate(tiny_config(tiny_model_dir, systems=["base"], protocol="benchmark",
                                   protocol_window_days=5), run, force=True)
    assert res.summary["n_queries"] == 5  # the 3-day pairs; the 10-day ones fall outside
    assert res.summary["skipped_reasons"] == {
        "benchmark protocol: no true link created before the query (within 5 days)": 15}
    assert all(f == {"created_to": t_created[q],
                     "created_from": t_created[q] - timedelta(days=5)} for q, f in calls)
    assert sorted(q for q, _ in calls) == sorted([f"T{i:02d}1" for i in range(5)] * 2)
    with pytest.raises(ConfigError, match="protocol_window_days needs"):
        config_from_dict({"evaluate": {"protocol_window_days": 5}})


@pytest.mark.config_keys(
    "evaluate.batch_size", "evaluate.extra_models", "evaluate.worst_misses",
    "evaluate.bootstrap.samples", "evaluate.bootstrap.confidence", "evaluate.bootstrap.seed",
    "evaluate.routing.k", "evaluate.routing.fields", "evaluate.folds.k", "search.rrf_k", "search.window", "search.dense_weight",
    "search.keyword_weight", "evaluate.duplicate.target_precision",
    "evaluate.duplicate.threshold_rule", "evaluate.duplicate.hard_negatives",
    "evaluate.duplicate.random_negatives", "evaluate.duplicate.seed",
)
def test_every_evaluate_key_reaches_its_component(tiny_run: RunDir, tiny_model_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}
    from ticketsim.inference.cache import CachedEncoder
    from ticketsim.retrieval import fusion

    real_encode, real_rrf = CachedEncoder.encode, fusion.rrf
    real_interval, real_pairs = stage_mod.bootstrap.interval, stage_mod.duplicates.build_pairs
    real_fit = stage_mod.duplicates.fit_decision

    def encode(self, texts, batch_size=64, *a, **k):  # type: ignore[no-untyped-def]
        seen["batch_size"] = batch_size
        return real_encode(self, texts, batch_size, *a, **k)

    def rrf(rankings, weights, rrf_k, window=None):  # type: ignore[no-untyped-def]
        seen["rrf"] = (list(weights), rrf_k, window)
        return real_rrf(rankings, weights, rrf_k, window)

    def interval(values, samples, seed, confidence):  # type: ignore[no-untyped-def]
        seen["bootstrap"] = (samples, seed, confidence)
        return real_interval(values, samples, seed, confidence)

    def build_pairs(*a, **k):  # type: ignore[no-untyped-def]
        p = real_pairs(*a, **k)
        seen["pairs"] = (k["top_k"], k["random_per_query"], k["seed"], p)
        return p

    def fit(scores, pairs, **k):  # type: ignore[no-untyped-def]
        seen["fit"] = k
        return real_fit(scores, pairs, **k)

    monkeypatch.setattr(CachedEncoder, "encode", encode)
    monkeypatch.setattr(fusion, "rrf", rrf)
    monkeypatch.setattr(stage_mod.bootstrap, "interval", interval)
    monkeypatch.setattr(stage_mod.duplicates, "build_pairs", build_pairs)
    monkeypatch.setattr(stage_mod.duplicates, "fit_decision", fit)
    cfg = tiny_config(
        tiny_model_dir, batch_size=7, extra_models=[str(tiny_model_dir)], worst_misses=2,
        bootstrap={"samples": 150, "confidence": 0.8, "seed": 5},
        routing={"k": 3, "fields": ["category", "team"]}, folds={"k": 3},
        search={"rrf_k": 7, "window": 20, "dense_weight": 2.0, "keyword_weight": 0.5},
        duplicate={"target_precision": 0.7, "threshold_rule": "f1", "hard_negatives": 1,
                   "random_negatives": 3, "seed": 9})
    res = run_evaluate(cfg, tiny_run).summary
    details = json.loads((tiny_run.path / "evaluate" / "details.json").read_text())
    assert seen["batch_size"] == 7
    assert "model" in " ".join(res["systems"])  # the extra folder ".../model" is a system
    # the tiny random model misses many links: exactly the 2 worst are kept, worst first
    assert [m["rank"] for m in details["worst_misses"]] == sorted(
        (m["rank"] for m in details["worst_misses"]), reverse=True)
    assert len(details["worst_misses"]) == 2 and details["worst_misses"][-1]["rank"] > 1
    assert seen["bootstrap"] == (150, 5, 0.8)
    assert res["ci"]["per_system"]["bm25"]["samples"] == 150
    assert res["routing"]["bm25"]["category"]["k"] == 3 and "team" in res["routing"]["bm25"]
    # the extra folder is the base model again: its routing is the base's, ticket by ticket
    extra = next(s for s in res["routing"] if s.endswith("model (suggestion)"))
    for field, v in res["routing"][extra].items():
        same = res["routing"]["base (suggestion)"][field]
        assert v["accuracy"] == same["accuracy"] and v["vs_base"]["diff"] == 0.0
        assert v["vs_base"]["base"] == "base (suggestion)" and not v["vs_base"]["significant"]
    assert res["routing"]["bm25"]["category"]["vs_base"]["samples"] == 150  # evaluate.bootstrap
    assert not any(k.startswith("_") for per in res["routing"].values() for v in per.values()
                   for k in v)
    assert res["folds"]["k"] == 3
    assert seen["rrf"] == ([2.0, 0.5], 7, 20)  # evaluate's hybrid is search's fusion
    top_k, rand, seed, pairs = seen["pairs"]  # type: ignore[misc]
    assert (top_k, rand, seed) == (1, 3, 9)
    # one hard negative per query (hard_negatives: 1), three random ones (random_negatives: 3)
    assert pairs.source.count("hard") == res["n_queries"]
    assert pairs.source.count("random") == 3 * res["n_queries"]
    assert {k: seen["fit"][k] for k in ("target_precision", "threshold_rule", "seed")} == {  # type: ignore[index]
        "target_precision": 0.7, "threshold_rule": "f1", "seed": 9}
    assert res["duplicate"]["finetuned"]["at_target_precision"]["target"] == 0.7
    assert res["duplicate"]["finetuned"]["threshold_rule"] == "f1"


@pytest.mark.config_keys("evaluate.duplicate.related_fields", "evaluate.duplicate.min_positives")
def test_labels_carry_their_measured_meaning(tiny_run: RunDir, tiny_model_dir: Path) -> None:
    res = run_evaluate(tiny_config(tiny_model_dir, systems=["bm25", "finetuned"]), tiny_run).summary
    th = Thresholds.load(tiny_run.path / "evaluate" / "thresholds.json")
    assert list(th.labels) == ["duplicate", "related", "unrelated"]
    dd = res["duplicate"]["finetuned"]
    assert dd["n_topic"] > 0  # the unlinked 4th ticket of each topic: same category + subcategory
    for lab, st in th.labels.items():
        # 10 duplicate links in 5 folds of link clusters; the random tiny model may reach no
        # precision-0.9 cut, and then the duplicate label is never given and says so
        assert st["measured"] or (lab == "duplicate" and "never given" in st["why_not"]), st
        assert st["precision"] == (pytest.approx(st["correct"] / st["labelled"]) if st["labelled"]
                                   else None)
        assert st["recall"] == pytest.approx(st["found"] / st["true"])
        assert st["words"].startswith(f"{lab}: ") and th.meaning()[lab] == st["words"]
    assert th.labels["related"]["truth"] == "same category and subcategory, or a known related link"
    assert th.labels["duplicate"]["true"] == 10 and th.labels["duplicate"]["queries"] == 10
    report = (tiny_run.path / "evaluate" / "report.md").read_text()
    assert "## What the labels mean" in report
    assert all(st["words"] in report for st in th.labels.values())
    assert th.labels["related"]["words"] in (tiny_run.path / "evaluate" / "report.html").read_text()

    res = run_evaluate(tiny_config(tiny_model_dir, systems=["finetuned"],
                                   duplicate={"related_fields": [], "min_positives": 11,
                                              "threshold_rule": "f1"}),
                       tiny_run, force=True).summary
    th = Thresholds.load(tiny_run.path / "evaluate" / "thresholds.json")
    assert res["duplicate"]["finetuned"]["n_topic"] == 0
    assert th.labels["related"]["truth"] == "a known related link"
    assert th.meaning()["duplicate"] == ("duplicate: not measured (only 10 held-out duplicate "
                                         "pairs (fewer than 11))")
    with pytest.raises(TicketsimError, match="related field 'nope'"):
        run_evaluate(tiny_config(tiny_model_dir, systems=["finetuned"],
                                 duplicate={"related_fields": ["nope"]}), tiny_run, force=True)


def test_bad_inputs_name_file_and_field(tiny_run: RunDir, tiny_model_dir: Path) -> None:
    with pytest.raises(TicketsimError, match="routing field 'nope'"):
        run_evaluate(tiny_config(tiny_model_dir, systems=["bm25"], routing={"fields": ["nope"]}),
                     tiny_run)
    with pytest.raises(TicketsimError, match="created"):
        t = tiny_tickets().assign(created=pd.NaT)
        run = write_run(tiny_run.path.parent / "r2", t, tiny_test_links(), None)
        run_evaluate(tiny_config(tiny_model_dir, systems=["bm25"], time_aware=True), run)
    assert not (run.path / "evaluate").exists(), "a failed evaluate must leave no artifacts"


def test_routing_reports_the_served_suggestion_next_to_knn(tmp_path: Path,
                                                           tiny_model_dir: Path) -> None:
    """evaluate scores the routing head search serves (embedding + TF-IDF of the training
    tickets), not only the kNN vote; index.routing: false leaves it out."""
    from ticketsim.config import config_from_dict

    run = write_run(tmp_path / "r", tiny_tickets(), tiny_test_links(), None)
    res = run_evaluate(tiny_config(tiny_model_dir, systems=["base"]), run)
    got = res.summary["routing"]["base (suggestion)"]
    assert set(got) == {"category", "subcategory"} and got["category"]["n"] == 10
    # every held-out ticket shares its words with its topic's training tickets
    assert got["category"]["accuracy"] == 1.0 and got["subcategory"]["accuracy"] == 1.0
    assert "base" in res.summary["routing"]  # the kNN vote stays
    report = (run.path / "evaluate" / "report.md").read_text()
    assert "| base (suggestion) | category | 1.000 |" in report
    assert "Δ accuracy vs base (95 % CI)" in report
    # how the router read the tickets: too few labelled ones to compare readings, as indexed
    assert got["category"]["lead_weight"] == 0.0 and "| as indexed |" in report
    assert "lead_weight" not in res.summary["routing"]["base"]["category"]  # the vote's row
    off = config_from_dict({"train": {"base_model": str(tiny_model_dir)},
                            "evaluate": {"systems": ["base"], "bootstrap": {"samples": 200}},
                            "index": {"routing": False}})
    res = run_evaluate(off, run, force=True)
    assert "base (suggestion)" not in res.summary["routing"] and "base" in res.summary["routing"]
    # index.routing_lead_weight reaches evaluate's router: it reads the base model's leads
    lead = config_from_dict({"train": {"base_model": str(tiny_model_dir)},
                             "evaluate": {"systems": ["base"], "bootstrap": {"samples": 200}},
                             "index": {"routing_lead_weight": 0.5}})
    res = run_evaluate(lead, run, force=True)
    assert res.summary["routing"]["base (suggestion)"]["category"]["lead_weight"] == 0.5
    assert "| with the lead (0.5) |" in (run.path / "evaluate" / "report.md").read_text()


@pytest.mark.config_keys("evaluate.routing.max_tickets", "evaluate.routing.seed")
def test_routing_scores_a_seeded_sample_of_the_held_out_tickets(
        tiny_run: RunDir, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int, int, int]] = []
    real = stage_mod.routing.capped_split

    def capped(split, max_test, seed):  # type: ignore[no-untyped-def]
        out = real(split, max_test, seed)
        seen.append((max_test, seed, int((out == "test").sum()), int((split == "test").sum())))
        return out

    monkeypatch.setattr(stage_mod.routing, "capped_split", capped)
    res = run_evaluate(tiny_config(tiny_model_dir, routing={"max_tickets": 3, "seed": 4}),
                       tiny_run).summary
    assert seen and all(s[:3] == (3, 4, 3) and s[3] > 3 for s in seen)
    ns = [v["n"] for per in res["routing"].values() for v in per.values()]
    assert ns and max(ns) <= 3  # every system scored on the same 3 held-out tickets
    split = np.array(10 * ["test"], dtype=object)  # the seed fixes the sample, and decides it
    assert list(real(split, 3, 4)) == list(real(split, 3, 4)) != list(real(split, 3, 5))
    assert real(split, 0, 4) is split and list(real(split, 3, 4)).count("test") == 3


def test_lead_view_auto_is_decided_by_the_champion(tiny_run: RunDir, tiny_model_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """index.lead_weight auto: evaluate scores the fine-tuned model read with the lead view as
    its own system; when the champion rule picks it, champion.json carries the weight the index
    reads with and the thresholds are fitted on the lead-read cosines of the fine-tuned model."""
    from ticketsim.config import LEAD_CANDIDATE, config_from_dict
    from ticketsim.evaluation import champion

    real = champion.choose
    picked: list[str] = []

    def lead_wins(per_query, metric, *a, **kw):  # type: ignore[no-untyped-def]
        pq = {s: dict(v) for s, v in per_query.items()}
        pq["finetuned+lead"][metric] = pq["finetuned+lead"][metric] + 1.0  # beyond any noise
        rec = real(pq, metric, *a, **kw)
        picked.append(rec["system"])
        return rec

    monkeypatch.setattr(stage_mod.champion, "choose", lead_wins)
    run_evaluate(tiny_config(tiny_model_dir), tiny_run)
    rec = json.loads((tiny_run.path / "evaluate" / "champion.json").read_text())
    assert picked == ["finetuned+lead"]
    assert (rec["system"], rec["mode"], rec["model"]) == ("finetuned+lead", "dense", "finetuned")
    assert rec["lead_weight"] == LEAD_CANDIDATE and "lead view" in rec["sentence"]
    assert rec["model_path"] == "train/model"
    th = json.loads((tiny_run.path / "evaluate" / "thresholds.json").read_text())
    assert th["details"]["model"] == "finetuned+lead"
    assert th["details"]["lead_weight"] == LEAD_CANDIDATE
    assert th["model_fingerprint"] == model_fingerprint(tiny_run.path / "train" / "model")

    monkeypatch.setattr(stage_mod.champion, "choose", real)  # the rule on its own numbers
    run_evaluate(tiny_config(tiny_model_dir), tiny_run, force=True)
    rec = json.loads((tiny_run.path / "evaluate" / "champion.json").read_text())
    assert rec["lead_weight"] == (LEAD_CANDIDATE if rec["system"].endswith("+lead") else 0.0)

    # a number in the config: every system reads with it, and no candidate is added
    cfg = config_from_dict({**tiny_config(tiny_model_dir).model_dump(mode="json"),
                            "index": {"lead_weight": 0.0}})
    res = run_evaluate(cfg, tiny_run)
    assert not any(s.endswith("+lead") for s in res.summary["systems"])
    assert json.loads((tiny_run.path / "evaluate" / "champion.json").read_text())[
        "lead_weight"] == 0.0


def test_cross_fitted_routing_pairs_each_fold_with_the_same_folds_base() -> None:
    """Pooled over folds, each fold's answers are paired with the base model's answers in that
    same fold (a ticket scored in two folds counts twice); the pooled accuracy is the n-weighted
    mean."""
    from types import SimpleNamespace

    from ticketsim.config import BootstrapConfig

    def row(tickets: list[int], correct: list[int]) -> dict[str, object]:
        return {"accuracy": float(np.mean(correct)), "macro_f1": 0.0, "n": len(correct),
                "classes": 2, "k": 3, "_tickets": np.asarray(tickets),
                "_correct": np.asarray(correct, dtype=bool)}

    fold1 = {"base": {"category": row([0, 1, 2], [1, 1, 0])},
             "ft": {"category": row([0, 1, 2], [1, 1, 1])}}
    fold2 = {"base": {"category": row([0, 3], [0, 0])},  # ticket 0 again, wrong this time
             "ft": {"category": row([0, 3], [1, 1])}}
    parts = [SimpleNamespace(routing=fold1), SimpleNamespace(routing=fold2)]
    out = stage_mod._pool_routing(parts, BootstrapConfig(samples=200))  # type: ignore[arg-type]
    ft = out["ft"]["category"]
    assert ft["n"] == 5 and ft["accuracy"] == 1.0 and out["base"]["category"]["accuracy"] == 0.4
    assert ft["vs_base"]["diff"] == pytest.approx(0.6) and ft["vs_base"]["samples"] == 200
    assert "_correct" not in ft and "_tickets" not in out["base"]["category"]
    # how each fold's router read the tickets: one weight when they agree, else each fold's
    fold1["ft"]["category"]["lead_weight"], fold2["ft"]["category"]["lead_weight"] = 0.5, 0.0
    assert stage_mod._pool_routing(parts, BootstrapConfig(samples=200))[  # type: ignore[arg-type]
        "ft"]["category"]["lead_weight"] == [0.5, 0.0]
    fold2["ft"]["category"]["lead_weight"] = 0.5
    pooled = stage_mod._pool_routing(parts, BootstrapConfig(samples=200))  # type: ignore[arg-type]
    assert pooled["ft"]["category"]["lead_weight"] == 0.5
    assert "lead_weight" not in pooled["base"]["category"]  # a vote's row has no reading


def test_router_reads_column_says_how_each_fold_read() -> None:
    from ticketsim.evaluation.report import reads

    assert reads(None) == "" and reads(0.0) == "as indexed"
    assert reads(0.5) == "with the lead (0.5)"
    assert reads([0.5, 0.0, 0.5]) == "with the lead (0.5) in 2 of 3 folds"
