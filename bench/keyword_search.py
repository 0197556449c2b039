"""Keyword baseline speed: bm25s (what evaluate uses) vs the index's SQLite FTS5 side (what search uses).

Same texts, same queries, k=10. Reported per system: indexing docs/s, query p50/p99 and
queries/s (one query at a time, as the service answers them), and the top-10 overlap of
FTS5's ranking with bm25s' (both are BM25, with different tokenisers and stop words, so
overlap well below 1 is expected; it says how far the incremental keyword side drifts
from the reference). Data: the Endava tickets (5k sample; all 47.8k with ``--large``) when
../shared/data is present, and generated demo tickets always.

    python -m bench.keyword_search --out bench/results/keyword.json [--large]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import ENDAVA_SUBSET as ENDAVA
from bench._common import RESULTS
from ticketsim.inference.agreement import overlap_at_k
from ticketsim.rundir import atomic_write_json


def _endava(n: int | None) -> list[str] | None:
    if not ENDAVA.is_file():
        return None
    import pandas as pd

    df = pd.read_csv(ENDAVA, dtype=str).fillna("")
    if n is not None:
        df = df.sample(min(n, len(df)), random_state=0)
    return (df["title"] + ". " + df["body"]).tolist()


def _demo(tmp: Path) -> list[str]:
    import pandas as pd

    from ticketsim.data.demo import generate_demo

    generate_demo(tmp / "demo", n_tickets=2000, seed=0)
    df = pd.read_csv(tmp / "demo" / "tickets.csv", dtype=str).fillna("")
    return (df["short_description"] + ". " + df["description"]).tolist()


def _latency(fn: Any, queries: list[str]) -> tuple[list[list[int]], np.ndarray]:
    out, lat = [], []
    for q in queries:
        t = time.perf_counter()
        out.append(fn(q))
        lat.append((time.perf_counter() - t) * 1000)
    return out, np.asarray(lat)


def bench_dataset(name: str, texts: list[str], n_queries: int, tmp: Path) -> dict[str, Any]:
    import bm25s

    from ticketsim.index.store import TicketStore

    rng = np.random.default_rng(0)
    qidx = rng.choice(len(texts), size=min(n_queries, len(texts)), replace=False)
    queries = [texts[i] for i in qidx]
    rows = []

    t0 = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    build = time.perf_counter() - t0

    def bm25_query(q: str) -> list[int]:
        res, _ = retriever.retrieve(bm25s.tokenize([q], stopwords="en", show_progress=False),
                                    k=10, show_progress=False)
        return [int(x) for x in res[0]]

    ref, lat = _latency(bm25_query, queries)
    rows.append(_row("bm25s", len(texts), build, lat))

    store = TicketStore(tmp / f"{name}.sqlite")
    recs = [{"id": str(i), "text": t} for i, t in enumerate(texts)]
    t0 = time.perf_counter()
    for s in range(0, len(recs), 5000):
        store.upsert(recs[s:s + 5000], np.zeros((len(recs[s:s + 5000]), 1), dtype=np.float32))
    build = time.perf_counter() - t0
    key_to_pos = {store.key_of(str(i)): i for i in range(len(texts))}

    def fts_query(q: str) -> list[int]:
        return [key_to_pos[k] for k, _ in store.keyword(q, 10)]

    got, lat = _latency(fts_query, queries)
    store.close()
    overlap = overlap_at_k(ref, got, 10)
    rows.append({**_row("sqlite-fts5", len(texts), build, lat), "top10_overlap_to_bm25s":
                 round(overlap, 3)})
    return {"dataset": name, "docs": len(texts), "queries": len(queries), "results": rows}


def _row(system: str, n: int, build_s: float, lat: np.ndarray) -> dict[str, Any]:
    return {"system": system, "index_s": round(build_s, 2), "docs_per_s": round(n / build_s, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2),
            "queries_per_s": round(1000 / float(lat.mean()), 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=RESULTS / "keyword_search.json")
    p.add_argument("--large", action="store_true", help="all 47.8k Endava tickets")
    p.add_argument("--n", type=int, default=5000, help="Endava sample size (small run)")
    p.add_argument("--queries", type=int, default=300)
    args = p.parse_args()
    datasets, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="bench-keyword-") as td:
        tmp = Path(td)
        endava = _endava(None if args.large else args.n)
        if endava is None:
            skipped.append(f"{ENDAVA} absent")
        else:
            name = "endava-all" if args.large else f"endava-{args.n}"
            datasets.append(bench_dataset(name, endava, args.queries, tmp))
        datasets.append(bench_dataset("demo-2000", _demo(tmp), args.queries, tmp))
    report = {"benchmark": "keyword_search",
              "settings": {"k": 10, "queries": args.queries, "bm25s_stopwords": "en",
                           "fts5_tokenizer": "unicode61 remove_diacritics 2"},
              "datasets": datasets, "skipped": skipped}
    atomic_write_json(args.out, report)
    print(f"{'dataset':>12} {'system':>12} {'docs/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'q/s':>7} overlap")
    for d in datasets:
        for r in d["results"]:
            print(f"{d['dataset']:>12} {r['system']:>12} {r['docs_per_s']:9.0f} {r['p50_ms']:7.2f} "
                  f"{r['p99_ms']:7.2f} {r['queries_per_s']:7.1f} {r.get('top10_overlap_to_bm25s', '')}")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
