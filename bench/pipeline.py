"""End-to-end wall time and peak memory of `ticketsim run`, per stage, cold and warm.

Runs the real CLI (``ticketsim run``) in a fresh run directory per dataset and reads each
stage's wall time from the gaps between the stages' ``finished`` stamps (each includes
its model loads); the process tree's resident memory is sampled every 0.5 s and each
sample is attributed to the stage running then, which gives a peak per stage. The run is
then repeated unchanged, which must skip every stage (the warm time is what a rerun with
nothing new costs). The held-out numbers of each system are reported too, so a speed
change that costs quality shows here.

- default: the generated demo (2,000 tickets, configs/demo.yaml);
- ``--large``: desk scale: all 47,837 Endava tickets (``Topic_group`` as category,
  configs/endava.yaml's recipe) and SeaMonkey (configs/seamonkey.yaml), from
  ``../shared/data`` (a dataset whose file is absent is skipped). Hours on a busy 2-core
  machine: run it when the machine is quiet. ``--tickets N`` takes the first N Endava
  tickets instead (a smaller desk-scale run).

The speed-ups (``fast_overrides``: ``train.time_budget``, and ``encoder: auto`` for
evaluate and index, i.e. the ONNX int8 encoder when it agrees with torch on the run's
tickets, with index and evaluate sharing the run's embedding cache so the index embeds
nothing again) are applied to the desk-scale datasets; ``--compare`` also runs the same recipe
without them in its own run directory and reports the held-out routing accuracy of both
served models on the same held-out tickets, with a paired bootstrap interval of the
difference (fast - plain). The 20-minute target is checked against the cold wall time.

    python -m bench.pipeline --out bench/results/pipeline.json [--large] [--datasets endava-large]
    python -m bench.pipeline --datasets endava-large --tickets 3000 --budget 1m --compare
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import ENDAVA_FULL as ENDAVA_LARGE
from bench._common import RESULTS, ROOT
from bench._common import SEAMONKEY_DIR as SEAMONKEY
from ticketsim.rundir import RunDir, atomic_write_json

STAGES = ["ingest", "pairs", "train", "evaluate", "index"]
TARGET_S = 20 * 60  # issue 20: export to index in under 20 minutes on this 2-core machine
LARGE_BUDGET = "7m"  # train.time_budget at 47,837 tickets: ~13 min left for the other stages


def fast_overrides(budget: str | None) -> list[str]:
    """The speed-ups on top of a dataset's recipe (``--compare`` runs it without them)."""
    return ([f"train.time_budget={budget}"] if budget else []) + [
        "index.encoder=auto"]  # evaluate embeds with index.encoder too


class RssSampler:
    """Resident memory of a process and its children, sampled in a thread (MB, epoch time)."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            import psutil
        except ImportError:  # pragma: no cover - psutil ships with the dev environment
            return
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in procs)
            except psutil.Error:
                rss = 0
            if rss:
                self.samples.append((time.time(), rss / 2**20))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _run(cmd: list[str], log: Path | None = None) -> tuple[float, list[tuple[float, float]]]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                text=True)
        with RssSampler(proc.pid) as sampler:
            rc = proc.wait()
        out.seek(0)
        text = out.read()
    if log is not None:
        log.write_text(text)
    if rc != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{text[-4000:]}")
    return time.perf_counter() - t0, sampler.samples


def _stage_windows(run_dir: Path, started: float) -> dict[str, tuple[float, float]]:
    """(start, end) epoch seconds per stage: the gaps between the stages' ``finished`` stamps."""
    out, prev = {}, started
    for stage in STAGES:
        finished = float(json.loads((run_dir / stage / "_stamp.json").read_text())["finished"])
        out[stage] = (prev, finished)
        prev = finished
    return out


def _dataset(name: str, tmp: Path, n_tickets: int | None) -> tuple[Path, list[str]] | None:
    """(config, --set overrides) for a dataset, or None when its data is absent."""
    cli = str(Path(sys.executable).with_name("ticketsim"))
    if name == "demo":
        data = tmp / "demo-data"
        _run([cli, "demo-data", str(data), "--tickets", str(n_tickets or 2000), "--seed", "0"])
        return ROOT / "configs" / "demo.yaml", [f"data.tickets={data / 'tickets.csv'}",
                                                f"data.links={data / 'links.json'}"]
    if name == "endava-large":
        if not ENDAVA_LARGE.is_file():
            return None
        tickets = ENDAVA_LARGE
        if n_tickets:
            import pandas as pd

            tickets = tmp / "endava.csv"
            pd.read_csv(ENDAVA_LARGE, nrows=n_tickets).to_csv(tickets, index=False)
        # configs/endava.yaml's recipe; this export has one text column and Topic_group
        return ROOT / "configs" / "endava.yaml", [
            f"data.tickets={tickets}", "data.columns.id=null",
            "data.columns.short_description=Document", "data.columns.description=null",
            "data.columns.category=Topic_group", "data.columns.subcategory=null",
            "data.columns.extra=[]"]
    if name == "seamonkey":
        if not (SEAMONKEY / "SeaMonkey_bugs.csv").is_file():
            return None
        return ROOT / "configs" / "seamonkey.yaml", [
            f"data.tickets={SEAMONKEY / 'SeaMonkey_bugs.csv'}",
            f"data.links={SEAMONKEY / 'SeaMonkey_bugs-combined.csv'}"]
    raise SystemExit(f"unknown dataset {name}")


def routing_correct(run_dir: Path, field: str = "category") -> tuple[list[str], np.ndarray] | None:
    """(held-out ticket ids, 1/0 per ticket) of the served model's kNN ``field`` (the
    evaluate stage's rule: ``evaluate.routing.k`` train/validation neighbours vote), from the
    vectors the index holds, so each run is judged by the model and backend it serves."""
    import pandas as pd

    from ticketsim.evaluation.dense import DenseScorer
    from ticketsim.evaluation.routing import knn_labels
    from ticketsim.inference import encoder_for
    from ticketsim.runconfig import load_run_config
    from ticketsim.rundir import RunDir

    tickets = pd.read_parquet(run_dir / "ingest" / "tickets.parquet")
    if field not in tickets.columns:
        return None
    split = pd.read_parquet(run_dir / "pairs" / "split.parquet")
    split_of = dict(zip(split["id"].astype(str), split["split"], strict=True))
    ids = tickets["id"].astype(str).tolist()
    where = np.array([split_of.get(i, "train") for i in ids], dtype=object)
    labels = tickets[field].fillna("").astype(str).to_numpy(dtype=object)
    has = np.array([bool(v.strip()) and v != "nan" for v in labels])
    test = np.flatnonzero((where == "test") & has)
    train = np.flatnonzero(np.isin(where, ["train", "validation"]) & has)
    if not len(test) or not len(train):
        return None
    cfg = load_run_config(run_dir)
    meta = json.loads((run_dir / "index" / "meta.json").read_text())
    model = RunDir(run_dir).resolve(meta["model_path"])
    enc = encoder_for(model, meta["encoder"], cache_dir=run_dir / "cache")  # cache hits
    emb = enc.encode(tickets["text"].fillna("").astype(str).tolist())
    k = cfg.evaluate.routing.k
    pred = knn_labels(DenseScorer("served", emb, str(model)), test, train, labels, k)
    return [ids[i] for i in test], np.array([p == labels[i] for p, i in zip(pred, test,
                                                                           strict=True)], float)


def paired_routing(fast: Path, plain: Path) -> dict[str, Any] | None:
    """Routing accuracy of both runs' served models on the same held-out tickets, and the
    paired bootstrap interval of the difference (fast - plain)."""
    from ticketsim.evaluation.bootstrap import paired_difference

    a, b = routing_correct(fast), routing_correct(plain)
    if a is None or b is None:
        return None
    if a[0] != b[0]:
        raise SystemExit("the two runs held out different tickets: no paired comparison")
    diff = paired_difference(a[1], b[1], samples=2000, seed=0, confidence=0.95)
    return {"field": "category", "n": len(a[0]), "fast_accuracy": round(float(a[1].mean()), 4),
            "plain_accuracy": round(float(b[1].mean()), 4),
            "diff": round(diff["diff"], 4), "ci95": [round(diff["low"], 4), round(diff["high"], 4)],
            "fast_no_worse": bool(diff["high"] >= 0 and diff["low"] > -0.01)}


REF_PAIRS = 384  # training pairs of the plain-script reference (12 steps of 32 per batching)
REF_TEXTS = 4000  # tickets of the plain-encode reference


def plain_reference(run_dir: Path, work: Path, n_pairs: int = REF_PAIRS,
                    n_texts: int = REF_TEXTS) -> dict[str, Any]:
    """A plain sentence-transformers script on the run's own pairs and texts, in this run.

    Training: ``bench.train.interleaved_steps`` on ``n_pairs`` of the run's training pairs
    with the run's model, batch size, max_seq_length and learning rate (MNRL), the plain
    script's no-duplicates batches against ticketsim's length-grouped ones, alternated step
    by step. Encoding: ``SentenceTransformer.encode`` of the served model against the
    encoder the run served (``index/meta.json``; its ONNX export is read from the run's
    cache, embeddings are not) on ``n_texts`` of the run's tickets (:func:`encode_reference`).
    """
    from bench.train import _sample, interleaved_steps
    from ticketsim.runconfig import load_run_config

    cfg = load_run_config(run_dir)
    trained = RunDir(run_dir).summary("train")
    settings = {"batch_size": cfg.train.batch_size, "learning_rate": cfg.train.lr(),
                "max_seq_length": trained.get("max_seq_length") or cfg.train.max_seq_length}
    data = _sample(run_dir, n_pairs, work / "reference-pairs")
    train = interleaved_steps(data, 1, model_name=cfg.train.base_model, settings=settings,
                              group_batches=cfg.train.length_group_batches)
    if cfg.train.loss != "mnrl":
        train["note"] = f"the recipe's loss is {cfg.train.loss}; both batchings ran MNRL"
    # the served model was saved by this training, reading read_max_seq_length tokens
    read = trained.get("read_max_seq_length") or settings["max_seq_length"]
    return {"train": train, "encode": encode_reference(run_dir, work, read, n_texts)}


def encode_reference(run_dir: Path, work: Path, max_len: int,
                     n_texts: int = REF_TEXTS) -> dict[str, Any]:
    """``SentenceTransformer.encode`` of the served model against the encoder the run served,
    each in its own process (``bench.encode``'s worker: same texts, batch 64, the model's
    ``max_len``, all cores), in the order plain, served, served, plain so that load
    drifting during the measurement hits both alike; seconds are summed over both turns."""
    import pandas as pd

    from bench.encode import run_system
    from ticketsim.inference import onnx_source
    from ticketsim.inference.batching import physical_cores

    meta = json.loads((run_dir / "index" / "meta.json").read_text())
    model = RunDir(run_dir).resolve(meta["model_path"])
    backend = meta["encoder"]
    texts = pd.read_parquet(run_dir / "ingest" / "tickets.parquet", columns=["text"])["text"]
    texts = texts.fillna("").astype(str).sample(min(n_texts, len(texts)), random_state=0).tolist()
    work.mkdir(parents=True, exist_ok=True)
    (work / "texts.json").write_text(json.dumps(texts))
    ns = argparse.Namespace(model=str(model), batch_size=64, threads=physical_cores(),
                            max_seq_length=max_len)
    onnx_dir = onnx_source(model, backend, cache_dir=run_dir / "cache")
    ours = backend if backend.startswith("onnx") else "ticketsim-torch"
    secs = {"st-encode": 0.0, ours: 0.0}
    for i, system in enumerate(("st-encode", ours, ours, "st-encode")):
        r = run_system(system, work / "texts.json", work / f"{system}-{i}.npy", ns,
                       Path(str(onnx_dir)))
        secs[system] += r["seconds"]
    a, b = np.load(work / "st-encode-0.npy"), np.load(work / f"{ours}-1.npy")
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"texts": len(texts), "model": meta["model_path"], "encoder": backend,
            "max_seq_length": max_len, "batch_size": 64, "threads": ns.threads,
            "long_text": "truncate", "served_long_text": meta.get("long_text", "truncate"),
            "results": [{"system": "st-encode" if k == "st-encode" else "ticketsim",
                         "seconds": round(v, 1), "texts_per_s": round(2 * len(texts) / v, 1),
                         "vs_st_encode": round(secs["st-encode"] / v, 3)}
                        for k, v in secs.items()],
            "cosine_mean": round(float(cos.mean()), 4)}


def bench_one(name: str, tmp: Path, n_tickets: int | None, extra: list[str] | None = None,
              label: str | None = None, reference_too: bool = True) -> dict[str, Any] | None:
    made = _dataset(name, tmp, n_tickets)
    if made is None:
        return None
    config, sets = made
    cli = str(Path(sys.executable).with_name("ticketsim"))
    run_dir = tmp / f"run-{label or name}"
    sets = [*sets, *(extra or []), f"data.links_store={run_dir / 'links.sqlite'}"]
    cmd = [cli, "run", str(config), "--run-dir", str(run_dir)]
    for s in sets:
        cmd += ["--set", s]
    load_before = os.getloadavg()[0]
    started = time.time()
    cold, samples = _run(cmd, log=tmp / f"{label or name}-cold.log")
    windows = _stage_windows(run_dir, started)
    stages = {}
    for stage, (a, b) in windows.items():
        peak = max((mb for t, mb in samples if a <= t <= b), default=None)
        stages[stage] = {"wall_s": round(b - a, 1),
                         "peak_rss_mb": round(peak) if peak is not None else None}
    log_lines = (tmp / f"{label or name}-cold.log").read_text().splitlines()
    estimate = next((ln.strip() for ln in log_lines if "estimate:" in ln), None)
    budget_lines = [ln.strip() for ln in log_lines if "time budget" in ln]
    warm, _ = _run(cmd)
    reference = plain_reference(run_dir, tmp / f"{label or name}-reference") if reference_too \
        else None
    metrics = RunDir(run_dir).summary("evaluate")
    held_out = {sys_name: {k: round(float(v), 4) for k, v in vals.items()
                           if k in ("mrr@10", "recall@10", "routing_acc", "category_acc")
                           and isinstance(v, int | float)}
                for sys_name, vals in metrics.get("systems", {}).items()}
    train = RunDir(run_dir).summary("train")
    tickets = json.loads((run_dir / "ingest" / "_stamp.json").read_text())
    index_meta = json.loads((run_dir / "index" / "meta.json").read_text())
    index_summary = RunDir(run_dir).summary("index")
    routing = {s: {f: round(v["accuracy"], 4) for f, v in per.items()}
               for s, per in (metrics.get("routing") or {}).items()}
    return {"dataset": label or name, "config": str(config.relative_to(ROOT)),
            "overrides": sets[:-1], "run_dir": str(run_dir),
            "under_20_min": cold < TARGET_S, "routing_accuracy": routing,
            "time_budget": train.get("time_budget"), "budget_log": budget_lines,
            "index_embed_s": index_summary.get("embed_s"),
            "index_build_s": index_summary.get("build_s"),
            "index_encoder": index_meta.get("encoder"),
            "results": [{"system": "ticketsim run (cold)", "wall_s": round(cold, 1),
                         "peak_rss_mb": round(max((mb for _, mb in samples), default=0)),
                         "stages": stages, "train_pairs_per_s": train.get("pairs_per_second"),
                         "train_rows": train.get("train_rows")},
                        {"system": "ticketsim run (warm rerun)", "wall_s": round(warm, 1)}],
            "estimate_line": estimate, "held_out": held_out, "plain_reference": reference,
            "ingest_stamp": {k: tickets.get(k) for k in ("rows", "tickets") if k in tickets},
            "loadavg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def reused_plain(run_dir: Path, report: Path) -> dict[str, Any]:
    """An earlier run without the speed-ups (``--plain-run``), as ``report`` (an earlier
    output of this bench) measured it, marked as reused; ``paired_routing`` then checks
    that it held out the same tickets as this run."""
    if not (run_dir / "index" / "meta.json").is_file():
        raise SystemExit(f"--plain-run {run_dir}: no finished run there (index/meta.json)")
    old = json.loads(report.read_text()) if report.is_file() else {}
    entry = next((d for d in old.get("datasets", [])
                  if Path(d.get("run_dir", "")).resolve() == run_dir.resolve()), None)
    if entry is None:
        raise SystemExit(f"--plain-run {run_dir}: {report} has no measurement of that run")
    finished = float(json.loads((run_dir / "index" / "_stamp.json").read_text())["finished"])
    return {**entry, "reused": True, "reused_from": str(report),
            "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(finished))}


def merged(old: dict[str, Any], datasets: list[dict[str, Any]],
           comparisons: list[dict[str, Any]], names: list[str],
           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """``--merge``: an earlier report's datasets and comparisons that this invocation did
    not run, followed by this invocation's (which replace the earlier ones of their name)."""
    ran = {d["dataset"] for d in datasets}
    compared = {c["dataset"] for c in comparisons}
    return ([d for d in old.get("datasets", []) if d["dataset"] not in ran] + datasets,
            [c for c in old.get("comparisons", []) if c["dataset"] not in compared] + comparisons,
            [n for n in old.get("settings", {}).get("datasets", []) if n not in names] + names)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=RESULTS / "pipeline.json")
    p.add_argument("--large", action="store_true",
                   help="47,837 Endava tickets (Topic_group) and SeaMonkey")
    p.add_argument("--datasets", default=None,
                   help="comma-separated: demo, endava-large, seamonkey")
    p.add_argument("--tickets", type=int, default=None,
                   help="demo size, or the first N Endava tickets")
    p.add_argument("--budget", default=LARGE_BUDGET,
                   help=f"train.time_budget of the fast recipe (default {LARGE_BUDGET}; 'none': off)")
    p.add_argument("--compare", action="store_true",
                   help="also run each desk-scale dataset without the speed-ups and compare "
                   "held-out routing on the same tickets (paired interval; on with --large "
                   "for endava-large)")
    p.add_argument("--keep", type=Path, default=None,
                   help="keep the run directories under this folder (default: a temp folder)")
    p.add_argument("--plain-run", type=Path, default=None,
                   help="the run directory of an earlier --compare run without the speed-ups "
                   "(a --keep folder's run-<dataset>-plain) to compare against instead of "
                   "running it again; its times are taken from the --out report that measured it")
    p.add_argument("--merge", action="store_true",
                   help="keep the datasets (and comparisons) of the existing --out report that "
                   "this invocation does not run (e.g. SeaMonkey run on its own)")
    p.add_argument("--reference-for", default=None,
                   help="comma-separated datasets of the existing --out report: measure only "
                   "their plain sentence-transformers reference again, on their kept run "
                   "directories, and update the report")
    args = p.parse_args()
    if args.reference_for:
        report = json.loads(args.out.read_text())
        for d in report["datasets"]:
            if d["dataset"] in args.reference_for.split(","):
                with tempfile.TemporaryDirectory(prefix="bench-reference-") as td:
                    d["plain_reference"] = plain_reference(Path(d["run_dir"]), Path(td))
                print(json.dumps(d["plain_reference"], indent=1))
        atomic_write_json(args.out, report)
        return
    names = (args.datasets.split(",") if args.datasets
             else ["endava-large", "seamonkey"] if args.large else ["demo"])
    budget = None if args.budget in ("none", "") else args.budget
    datasets, skipped, comparisons = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as td:
        root = args.keep or Path(td)
        root.mkdir(parents=True, exist_ok=True)
        for name in names:
            extra = fast_overrides(budget) if name != "demo" else []
            res = bench_one(name, root, args.tickets, extra, reference_too=name != "demo")
            if res is None:
                skipped.append(f"{name}: data absent")
                continue
            datasets.append(res)
            # --large compares on Endava (categories: routing is its held-out measure)
            if name != "demo" and (args.compare or (args.large and name == "endava-large")):
                if args.plain_run:
                    plain = reused_plain(args.plain_run, args.out)
                else:
                    plain = bench_one(name, root, args.tickets, [], label=f"{name}-plain",
                                      reference_too=False)
                assert plain is not None
                datasets.append(plain)
                comparisons.append({"dataset": name, "routing": paired_routing(
                    Path(res["run_dir"]), Path(plain["run_dir"])),
                    "cold_s": {"fast": res["results"][0]["wall_s"],
                               "plain": plain["results"][0]["wall_s"]}})
    old_settings: dict[str, Any] = {}
    if args.merge and args.out.is_file():
        old = json.loads(args.out.read_text())
        datasets, comparisons, names = merged(old, datasets, comparisons, names)
        old_settings = old.get("settings", {})
    report = {"benchmark": "pipeline",
              "settings": {"datasets": names, "tickets": args.tickets, "seed": 0,
                           "fast_overrides": fast_overrides(budget), "target_s": TARGET_S,
                           # --merge: an earlier invocation's --plain-run stays recorded
                           "plain_run": str(args.plain_run) if args.plain_run
                           else old_settings.get("plain_run"),
                           "reference": {"pairs": REF_PAIRS, "texts": REF_TEXTS}},
              "comparisons": comparisons,
              "machine": {"cpu_count": os.cpu_count()}, "datasets": datasets,
              "skipped": skipped}
    atomic_write_json(args.out, report)
    for d in datasets:
        cold = d["results"][0]
        if d.get("reused"):
            print(f"{d['dataset']}: cold {cold['wall_s']:.0f} s (reused: measured "
                  f"{d['finished']}, {d['reused_from']})")
            continue
        print(f"{d['dataset']}: cold {cold['wall_s']:.0f} s (peak {cold['peak_rss_mb']} MB), "
              f"warm rerun {d['results'][1]['wall_s']:.1f} s; load {d['loadavg_1min']}")
        for s, v in cold["stages"].items():
            print(f"  {s:9} {v['wall_s']:8.1f} s  peak {v['peak_rss_mb']} MB")
        if d["estimate_line"]:
            print(f"  said before training: {d['estimate_line']}")
        for name, vals in d["held_out"].items():
            print(f"  {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in vals.items()))
        for name, vals in d["routing_accuracy"].items():
            print(f"  routing {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in vals.items()))
        print(f"  under 20 min: {d['under_20_min']}; index embedded in {d['index_embed_s']} s "
              f"({d['index_encoder']}, vectors from the run's cache)")
        for ln in d.get("budget_log", []):
            print(f"  {ln}")
        ref = d.get("plain_reference")
        if ref:
            tr, en = ref["train"], ref["encode"]
            print(f"  plain sentence-transformers on the run's own data ({tr['pairs']} pairs, "
                  f"batch {tr['batch_size']}, {tr['max_seq_length']} tokens; {en['texts']} texts):")
            for r in tr["results"]:
                print(f"    train  {r['system']:16} {r['pairs_per_s']:7.2f} pairs/s "
                      f"{r['vs_st_script']:5.2f}x")
            for r in en["results"]:
                print(f"    encode {r['system']:16} {r['texts_per_s']:7.1f} texts/s "
                      f"{r['vs_st_encode']:5.2f}x")
            print(f"    encode cosine {en['encoder']} vs st-encode {en['cosine_mean']:.4f}")
    for c in comparisons:
        r = c["routing"]
        if r:
            print(f"{c['dataset']}: routing ({r['n']} held-out tickets) fast {r['fast_accuracy']:.3f}"
                  f" vs plain {r['plain_accuracy']:.3f}: diff {r['diff']:+.3f} "
                  f"[{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}]; cold {c['cold_s']}")
    for s in skipped:
        print(f"skipped {s}")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
