"""Keyword engine choice: bm25s vs SQLite FTS5 (the engine ticketsim uses everywhere).

Measured per dataset: MRR@10 of ticket-to-ticket keyword retrieval (the query ticket's own
text, itself excluded) on known links (SeaMonkey duplicates) or on same category and
subcategories (Endava, a proxy: it has no links), top-10 overlap of the two rankings,
index build time, query latency (p50, one query at a time as the service answers), and
the cost of keeping the index current: FTS5 updates one ticket in place (delete + insert
per ticket, timed over 200 tickets), bm25s cannot add or delete and re-indexes everything.
FTS5 is ticketsim's :class:`ticketsim.retrieval.keyword.KeywordIndex`; bm25s runs with
English stop words, as ticketsim's evaluation did before.

    python -m bench.keyword_search --out bench/results/keyword_search.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import ENDAVA_SUBSET as ENDAVA
from bench._common import RESULTS
from bench._common import SEAMONKEY_DIR as SEAMONKEY
from ticketsim.inference.agreement import overlap_at_k
from ticketsim.retrieval.keyword import KeywordIndex
from ticketsim.rundir import atomic_write_json


def seamonkey() -> tuple[list[str], dict[int, set[int]]] | None:
    import pandas as pd

    if not (SEAMONKEY / "SeaMonkey_bugs.csv").is_file():
        return None
    df = pd.read_csv(SEAMONKEY / "SeaMonkey_bugs.csv", dtype=str).fillna("")
    pos = {t: i for i, t in enumerate(df["Issue id"])}
    links = pd.read_csv(SEAMONKEY / "SeaMonkey_bugs-combined.csv", dtype=str)
    rel: dict[int, set[int]] = {}
    for a, b in zip(links.iloc[:, 0], links.iloc[:, 1], strict=True):
        if a in pos and b in pos and a != b:
            rel.setdefault(pos[a], set()).add(pos[b])
            rel.setdefault(pos[b], set()).add(pos[a])
    return (df["Summary"] + ". " + df["Description"]).tolist(), rel


def endava(queries: int) -> tuple[list[str], dict[int, set[int]]] | None:
    import pandas as pd

    if not ENDAVA.is_file():
        return None
    df = pd.read_csv(ENDAVA, dtype=str).fillna("")
    group = (df["category"] + "/" + df["sub_category1"] + "/" + df["sub_category2"]).tolist()
    by: dict[str, set[int]] = {}
    for i, g in enumerate(group):
        by.setdefault(g, set()).add(i)
    qs = np.random.default_rng(0).choice(len(df), queries, replace=False)
    rel = {int(i): by[group[i]] - {int(i)} for i in qs if len(by[group[i]]) > 1}
    return (df["title"] + ". " + df["body"]).tolist(), rel


def _mrr(rank: Any, rel: dict[int, set[int]]) -> tuple[float, float, dict[int, list[int]]]:
    rr, lat, tops = [], [], {}
    for q, r in rel.items():
        t = time.perf_counter()
        top = rank(q)[:10]
        lat.append(time.perf_counter() - t)
        tops[q] = top
        rr.append(next((1 / (i + 1) for i, c in enumerate(top) if c in r), 0.0))
    return float(np.mean(rr)), 1000 * float(np.median(lat)), tops


def bench(name: str, texts: list[str], rel: dict[int, set[int]]) -> dict[str, Any]:
    import bm25s

    rows = []
    t0 = time.perf_counter()
    tok = bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)
    tok = [[x for x in d if x] or [""] for d in tok]
    retriever = bm25s.BM25()
    retriever.index(tok, show_progress=False)
    build = time.perf_counter() - t0

    def bm25s_rank(q: int) -> list[int]:
        s = retriever.get_scores(tok[q]).astype(np.float64)
        s[q] = -np.inf
        return np.lexsort((np.arange(len(s)), -s))[:10].tolist()

    mrr, p50, ref = _mrr(bm25s_rank, rel)
    rows.append({"system": "bm25s", "mrr@10": round(mrr, 4), "index_s": round(build, 2),
                 "query_p50_ms": round(p50, 2), "update_one_ticket_ms": round(1000 * build, 1),
                 "update_note": "no add/delete: full re-index"})
    t0 = time.perf_counter()
    kw = KeywordIndex(texts)
    build = time.perf_counter() - t0
    mrr, p50, got = _mrr(lambda q: [c for c, _ in kw.top(texts[q], 10, exclude=q)], rel)
    t0 = time.perf_counter()
    for i in range(200):
        kw.conn.execute("DELETE FROM fts WHERE rowid=?", (i,))
        kw.conn.execute("INSERT INTO fts (rowid, text) VALUES (?, ?)", (i, texts[i]))
    upd = (time.perf_counter() - t0) / 200
    overlap = overlap_at_k([ref[q] for q in rel], [got[q] for q in rel], 10)
    rows.append({"system": "sqlite-fts5", "mrr@10": round(mrr, 4), "index_s": round(build, 2),
                 "query_p50_ms": round(p50, 2), "update_one_ticket_ms": round(1000 * upd, 3),
                 "update_note": "in place (delete + insert)", "top10_overlap_to_bm25s":
                 round(overlap, 3)})
    return {"dataset": name, "docs": len(texts), "queries": len(rel), "results": rows}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=RESULTS / "keyword_search.json")
    p.add_argument("--queries", type=int, default=500, help="Endava queries")
    args = p.parse_args()
    datasets, skipped = [], []
    for name, data in (("seamonkey-links", seamonkey()), ("endava-5k-category", endava(args.queries))):
        if data is None:
            skipped.append(f"{name}: data absent")
        else:
            datasets.append(bench(name, *data))
    atomic_write_json(args.out, {"benchmark": "keyword_search", "datasets": datasets,
                                 "skipped": skipped})
    print(f"{'dataset':>20} {'engine':>12} {'MRR@10':>7} {'index s':>8} {'p50 ms':>7} "
          f"{'update ms':>9} overlap")
    for d in datasets:
        for r in d["results"]:
            print(f"{d['dataset']:>20} {r['system']:>12} {r['mrr@10']:7.3f} {r['index_s']:8.2f} "
                  f"{r['query_p50_ms']:7.2f} {r['update_one_ticket_ms']:9.3f} "
                  f"{r.get('top10_overlap_to_bm25s', '')}")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
