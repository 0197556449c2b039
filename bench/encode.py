"""Encode throughput, peak memory, quality and hardware utilisation of every inference path.

Systems, all on the same model, texts, max_seq_length, batch size and thread count:

- ``st-encode``: plain ``SentenceTransformer.encode`` (what a user writes);
- ``ticketsim-torch``: ticketsim's torch backend (token-length-sorted batches);
- ``onnx``: the fp32 ONNX export, BERT-fused, on onnxruntime;
- ``onnx-int8``: the per-channel dynamic int8 export.

Each system runs in its own subprocess (so peak RSS is its own) after one warm-up batch.
Quality against ``st-encode``: cosine of the same text's embeddings, top-10 neighbour
overlap, kNN (k=10) category accuracy where the data has categories, and MRR@10 on the
demo's held-out links when the demo generator is present. Utilisation: model FLOPs per
token x tokens/s against the measured peak of a large float32 matmul on the same threads.
The quality numbers are the library's: ``ticketsim.inference.agreement`` (overlap), the
report's kNN vote (``evaluation.routing.knn_labels``, similarity-weighted) and its MRR@10
(``evaluation.metrics``), so they read like ``ticketsim evaluate``'s.

Usage: python -m bench.encode [--large] [--out bench/results/encode.json] [--n 5000]
(small: a 5k sample of the Endava tickets, skipped when ../shared/data is absent, and 2k
demo tickets; --large: all 47.8k Endava tickets).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import ENDAVA_FULL as ENDAVA
from bench._common import RESULTS, ROOT, SEAMONKEY_DIR
from ticketsim.evaluation import metrics
from ticketsim.evaluation.routing import knn_labels
from ticketsim.inference.agreement import neighbour_overlap

SYSTEMS = ["st-encode", "ticketsim-torch", "onnx", "onnx-int8"]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# ---------------------------------------------------------------------------- worker
def worker(args: argparse.Namespace) -> None:
    """One system in this process: load, warm up, encode, write embeddings + numbers."""
    if args.system != "onnx" and args.system != "onnx-int8":  # ONNX workers never load torch
        import torch

        torch.set_num_threads(args.threads)
    texts = json.loads(Path(args.texts).read_text())
    t0 = time.perf_counter()
    if args.system == "st-encode":
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(args.model, device="cpu")
        model.max_seq_length = args.max_seq_length

        def run(batch: list[str]) -> np.ndarray:
            return model.encode(batch, batch_size=args.batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)

        max_len, bs = model.max_seq_length, args.batch_size
    else:
        from ticketsim.inference import load_encoder

        source = args.model if args.system == "ticketsim-torch" else args.onnx_dir
        enc = load_encoder(source, args.system.replace("ticketsim-", ""), threads=args.threads,
                           max_seq_length=args.max_seq_length)

        def run(batch: list[str]) -> np.ndarray:
            return enc.encode(batch, batch_size=args.batch_size)

        max_len, bs = enc.max_seq_length, args.batch_size
    load_s = time.perf_counter() - t0
    run(texts[: args.batch_size])  # warm-up: first-call allocations, lazy inits
    t0 = time.perf_counter()
    emb = run(texts)
    secs = time.perf_counter() - t0
    np.save(args.emb_out, emb.astype(np.float32))
    peak_mb = peak_rss_mb()
    print(json.dumps({"system": args.system, "seconds": secs, "load_s": load_s,
                      "peak_rss_mb": peak_mb, "max_seq_length": max_len, "batch_size": bs,
                      "threads": args.threads}))


# ---------------------------------------------------------------------------- helpers
def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would carry the parent's over exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_peak_gflops(threads: int, n: int = 2048, repeats: int = 5) -> dict[str, float]:
    """Best-of-``repeats`` float32 GEMM throughput (n x n) on ``threads`` threads, per library.

    torch, numpy and onnxruntime use different GEMM kernels and differ by 2x on the same
    cores; the machine's limit is the best of them (``max``).
    """
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper, numpy_helper

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    an, bn = a.numpy(), b.numpy()
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "gemm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])],
        [numpy_helper.from_array(bn, "w")])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString(),
        opts, providers=["CPUExecutionProvider"])
    runs = {"torch": lambda: torch.mm(a, b), "numpy": lambda: an @ bn,
            "onnxruntime": lambda: sess.run(None, {"x": an})}
    out: dict[str, float] = {}
    for name, fn in runs.items():
        fn()
        best = 0.0
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e9)
        out[name] = best
    out["max"] = max(out.values())
    return out


def flops_per_token(config: Any, mean_len: float) -> float:
    """Forward FLOPs per token of a BERT encoder: 2 x non-embedding weights + attention scores."""
    h, layers, inter = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    weights = layers * (4 * h * h + 2 * h * inter)
    attention = layers * 2 * 2 * mean_len * h  # QK^T and AV
    return 2 * weights + attention


def knn_accuracy(emb: np.ndarray, labels: np.ndarray, k: int = 10, sample: int = 2000) -> float:
    """Leave-one-out kNN category accuracy of the first ``sample`` texts, by the report's vote rule."""
    idx = np.arange(min(sample, len(emb)))

    def scores(q: np.ndarray) -> np.ndarray:
        s = emb[q] @ emb.T
        s[np.arange(len(q)), q] = -np.inf  # a ticket does not vote for itself
        return s

    pred = knn_labels(scores, idx, np.arange(len(emb)), labels, k)
    return float(np.mean([p == str(t) for p, t in zip(pred, labels[idx], strict=True)]))


def mrr_at_10(emb: np.ndarray, queries: list[int], relevant: list[set[int]]) -> float:
    """Dense MRR@10 (query excluded) by the project's one metric code (ticketsim.evaluation.metrics)."""
    ranking = metrics.exact_dense_ranking("bench", emb, queries, relevant, keep=metrics.MRR_K)
    qm = metrics.QueryMetrics([str(i) for i in range(len(emb))], [1])
    return float(qm.table(ranking, relevant)[f"mrr@{metrics.MRR_K}"].mean()) if queries else 0.0


def load_endava(n: int | None, seed: int = 0) -> tuple[list[str], np.ndarray] | None:
    if not ENDAVA.is_file():
        return None
    import pandas as pd

    df = pd.read_csv(ENDAVA).dropna(subset=["Document"])
    if n and n < len(df):
        df = df.sample(n, random_state=seed)
    return df["Document"].astype(str).tolist(), df["Topic_group"].astype(str).to_numpy()


def load_seamonkey() -> dict[str, Any] | None:
    """SeaMonkey bug reports (long texts) with their known duplicate links, when present."""
    folder = SEAMONKEY_DIR
    if not (folder / "SeaMonkey_bugs.csv").is_file():
        return None
    import pandas as pd

    bugs = pd.read_csv(folder / "SeaMonkey_bugs.csv").fillna("")
    texts = (bugs["Summary"].astype(str) + ". " + bugs["Description"].astype(str)).tolist()
    pos = {str(i): n for n, i in enumerate(bugs["Issue id"])}
    relevant: dict[int, set[int]] = {}
    for a, dups in pd.read_csv(folder / "SeaMonkey_bugs-combined.csv", dtype=str).itertuples(
            index=False):
        for b in str(dups).split(","):
            i, j = pos.get(str(a).strip()), pos.get(b.strip())
            if i is not None and j is not None and i != j:
                relevant.setdefault(i, set()).add(j)
                relevant.setdefault(j, set()).add(i)
    return {"texts": texts, "labels": None, "relevant": relevant}


def load_demo(n: int, workdir: Path) -> dict[str, Any] | None:
    """Demo tickets and their links, when ticketsim.data.demo.generate_demo exists (else None)."""
    try:
        from ticketsim.data.demo import generate_demo
    except ImportError:
        return None
    import pandas as pd

    out = workdir / "demo"
    generate_demo(out, n_tickets=n, seed=0)
    tickets = pd.read_csv(out / "tickets.csv", dtype=str).fillna("")
    text_cols = [c for c in ("short_description", "description") if c in tickets.columns]
    texts = tickets[text_cols].agg(". ".join, axis=1).tolist()
    id_col = "id" if "id" in tickets.columns else tickets.columns[0]
    pos = {str(t): i for i, t in enumerate(tickets[id_col])}
    links_path = out / "links.json"
    relevant: dict[int, set[int]] = {}
    if links_path.is_file():
        raw = links_path.read_text().strip()
        rows = json.loads(raw) if raw.startswith("[") else [json.loads(x) for x in raw.splitlines() if x]
        for r in rows:
            a, b = pos.get(str(r.get("a"))), pos.get(str(r.get("b")))
            if a is None or b is None or int(r.get("label", 1)) != 1:
                continue
            relevant.setdefault(a, set()).add(b)
            relevant.setdefault(b, set()).add(a)
    cat = tickets["category"].to_numpy() if "category" in tickets.columns else None
    return {"texts": texts, "labels": cat, "relevant": relevant}


def run_system(system: str, texts_file: Path, emb_file: Path, args: argparse.Namespace,
               onnx_dir: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.encode", "--worker", "--system", system, "--texts", str(texts_file),
           "--emb-out", str(emb_file), "--model", args.model, "--onnx-dir", str(onnx_dir),
           "--batch-size", str(args.batch_size), "--threads", str(args.threads),
           "--max-seq-length", str(args.max_seq_length)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if res.returncode != 0:
        raise RuntimeError(f"{system} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench_dataset(name: str, texts: list[str], labels: np.ndarray | None,
                  relevant: dict[int, set[int]] | None, args: argparse.Namespace,
                  onnx_dir: Path, tmp: Path, peak: float, config: Any, tokenizer: Any) -> dict[str, Any]:
    texts_file = tmp / f"{name}.json"
    texts_file.write_text(json.dumps(texts))
    lengths = np.array([len(x) for x in tokenizer(texts, truncation=True,
                                                  max_length=args.max_seq_length)["input_ids"]])
    tokens = int(lengths.sum())
    fpt = flops_per_token(config, float(lengths.mean()))
    best: dict[str, dict[str, Any]] = {}
    embs: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):  # interleaved rounds; the fastest round counts (contention)
        for system in args.systems:
            load = os.getloadavg()[0]
            r = run_system(system, texts_file, tmp / f"{name}-{system}.npy", args, onnx_dir)
            r["loadavg_1min"] = round(max(load, os.getloadavg()[0]), 2)
            embs[system] = np.load(tmp / f"{name}-{system}.npy")
            prev = best.get(system)
            if prev is None or r["seconds"] < prev["seconds"]:
                r["peak_rss_mb"] = max(r["peak_rss_mb"], prev["peak_rss_mb"] if prev else 0.0)
                best[system] = r
    rows = [best[s] for s in args.systems]
    for r in rows:
        r["tickets_per_s"] = len(texts) / r["seconds"]
        r["tokens_per_s"] = tokens / r["seconds"]
        r["gflops"] = fpt * r["tokens_per_s"] / 1e9
        r["fraction_of_matmul_peak"] = r["gflops"] / peak
    settings = {(r["max_seq_length"], r["batch_size"], r["threads"]) for r in rows}
    assert len(settings) == 1, f"systems ran with different settings: {settings}"
    shapes = {e.shape for e in embs.values()}
    assert shapes == {(len(texts), ref_dim(embs))}, f"systems embedded different texts: {shapes}"
    ref_name = "st-encode" if "st-encode" in embs else args.systems[0]
    ref = embs[ref_name]
    queries = sorted(relevant) if relevant else []
    for r in rows:
        e = embs[r["system"]]
        r["speedup_vs_st_encode"] = rows[0]["seconds"] / r["seconds"] if ref_name == "st-encode" else None
        r["cosine_to_st_mean"] = float(np.einsum("ij,ij->i", ref, e).mean())
        r["cosine_to_st_min"] = float(np.einsum("ij,ij->i", ref, e).min())
        r["top10_overlap_to_st"] = neighbour_overlap(ref, e, 10, queries=np.arange(min(1000, len(e))))
        if labels is not None:
            r["knn10_category_accuracy"] = knn_accuracy(e, labels)
        if queries:
            r["mrr@10"] = mrr_at_10(e, queries, [relevant[q] for q in queries])
    return {"dataset": name, "n_texts": len(texts), "tokens": tokens,
            "mean_tokens": float(lengths.mean()), "flops_per_token": fpt,
            "queries_with_links": len(queries), "results": rows}


def ref_dim(embs: dict[str, np.ndarray]) -> int:
    return next(iter(embs.values())).shape[1]


def print_table(report: dict[str, Any]) -> None:
    cols = ["system", "tickets_per_s", "speedup_vs_st_encode", "peak_rss_mb",
            "fraction_of_matmul_peak", "cosine_to_st_mean", "top10_overlap_to_st",
            "knn10_category_accuracy", "mrr@10", "loadavg_1min"]
    for ds in report["datasets"]:
        print(f"\n{ds['dataset']}: {ds['n_texts']} texts, {ds['mean_tokens']:.1f} tokens/text, "
              f"{ds['queries_with_links']} queries with links, "
              f"batch {report['settings']['batch_size']}, threads {report['settings']['threads']}")
        present = [c for c in cols if any(c in r for r in ds["results"])]
        print(" | ".join(f"{c:>14}" for c in present))
        for r in ds["results"]:
            cells = []
            for c in present:
                v = r.get(c)
                cells.append(f"{v:>14.3f}" if isinstance(v, float) else f"{v!s:>14}")
            print(" | ".join(cells))
    libs = ", ".join(f"{k} {v:.0f}" for k, v in report["machine"]["matmul_peak_by_library"].items()
                     if k != "max")
    print(f"\nfloat32 matmul peak: {report['machine']['matmul_peak_gflops']:.1f} GFLOP/s ({libs}); "
          f"load average before/after: {report['machine']['loadavg_before']} / "
          f"{report['machine']['loadavg_after']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=RESULTS / "encode.json")
    p.add_argument("--large", action="store_true", help="all 47.8k Endava tickets")
    p.add_argument("--n", type=int, default=5000, help="Endava sample size (small run)")
    p.add_argument("--demo-tickets", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=0, help="0: physical cores")
    p.add_argument("--max-seq-length", type=int, default=256)
    p.add_argument("--model", default="default")
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--repeats", type=int, default=1,
                   help="interleaved rounds per dataset; the fastest counts (use 2+ on a busy machine)")
    # worker mode (internal)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--system", help=argparse.SUPPRESS)
    p.add_argument("--texts", help=argparse.SUPPRESS)
    p.add_argument("--emb-out", help=argparse.SUPPRESS)
    p.add_argument("--onnx-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return

    from ticketsim.inference.batching import physical_cores
    from ticketsim.inference.export import export_onnx
    from ticketsim.models import resolve_model
    from ticketsim.rundir import atomic_write_json

    args.threads = args.threads or physical_cores()
    args.model = resolve_model(args.model)
    args.systems = [s for s in args.systems.split(",") if s]
    load_before = os.getloadavg()
    peaks = matmul_peak_gflops(args.threads)
    peak = peaks["max"]
    datasets = []
    with tempfile.TemporaryDirectory(prefix="bench-encode-") as td:
        tmp = Path(td)
        t0 = time.perf_counter()
        export = export_onnx(args.model, tmp / "onnx", int8=True)
        export_s = time.perf_counter() - t0
        assert export.meta["source"] == args.model, "the ONNX graphs come from another model"
        from transformers import AutoConfig, AutoTokenizer

        config = AutoConfig.from_pretrained(args.model)
        tokenizer = AutoTokenizer.from_pretrained(args.model)
        endava = load_endava(None if args.large else args.n)
        if endava is not None:
            name = "endava-all" if args.large else f"endava-{args.n}"
            datasets.append(bench_dataset(name, endava[0], endava[1], None, args, tmp / "onnx",
                                          tmp, peak, config, tokenizer))
        bugs = load_seamonkey()
        if bugs is not None:
            datasets.append(bench_dataset("seamonkey-bugs", bugs["texts"], None, bugs["relevant"],
                                          args, tmp / "onnx", tmp, peak, config, tokenizer))
        demo = load_demo(args.demo_tickets, tmp)
        if demo is not None:
            datasets.append(bench_dataset(f"demo-{args.demo_tickets}", demo["texts"], demo["labels"],
                                          demo["relevant"], args, tmp / "onnx", tmp, peak, config,
                                          tokenizer))
    report = {
        "benchmark": "encode",
        "large": args.large,
        "settings": {"model": args.model, "max_seq_length": args.max_seq_length,
                     "batch_size": args.batch_size, "threads": args.threads,
                     "systems": args.systems, "repeats": args.repeats},
        "machine": {"cpu_count": os.cpu_count(), "threads": args.threads,
                    "matmul_peak_gflops": peak, "matmul_peak_by_library": peaks,
                    "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
        "export": {"seconds": export_s, "agreement_with_torch": export.meta["agreement_with_torch"],
                   "fused_operators": export.meta["fused_operators"],
                   "quantization": export.meta["quantization"]},
        "datasets": datasets,
        "skipped": [] if datasets else ["no data: ../shared/data absent and no demo generator"],
    }
    if endava is None:
        report["skipped"].append(f"{ENDAVA} absent")
    if demo is None:
        report["skipped"].append("ticketsim.data.demo.generate_demo not available")
    atomic_write_json(args.out, report)
    print_table(report)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
