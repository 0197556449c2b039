"""Render the README's "Performance" tables from bench/results/*.json (called by run_all.py).

The tables sit between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` in README.md and
are replaced as a whole, so the README always matches the latest ``make bench``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from bench._common import RESULTS, ROOT

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _load(results: Path, name: str) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _f(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _encode(rep: dict[str, Any]) -> list[str]:
    out = ["**Encoding** (`bench/encode.py`; same model, texts, max_seq_length "
           f"{rep['settings']['max_seq_length']}, batch {rep['settings']['batch_size']}, "
           f"{rep['settings']['threads']} threads):", "",
           "| data | system | tickets/s | vs plain ST | of matmul peak | top-10 overlap | MRR@10 |",
           "|---|---|---|---|---|---|---|"]
    for ds in rep["datasets"]:
        for r in ds["results"]:
            out.append(f"| {ds['dataset']} | {r['system']} | {_f(r['tickets_per_s'])} | "
                       f"{_f(r['speedup_vs_st_encode'], 2)}x | "
                       f"{_f(100 * r['fraction_of_matmul_peak'], 0)} % | "
                       f"{_f(r.get('top10_overlap_to_st'), 3)} | {_f(r.get('mrr@10'), 3)} |")
    return out


def _cell(value: Any, digits: int) -> str:
    if value is True:
        return "yes"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _f(value, digits)
    return "-" if value is None else str(value)


def _rows(rep: dict[str, Any], title: str, cols: list[tuple[str, str, int]]) -> list[str]:
    out = [title, "", "| system | " + " | ".join(h for _, h, _ in cols) + " |",
           "|---|" + "---|" * len(cols)]
    for r in rep.get("results", []):
        out.append(f"| {r['system']} | " + " | ".join(_cell(r.get(k), d) for k, _, d in cols) + " |")
    return out


def render(results: Path) -> str:
    """Markdown for every known result file present; one that has another layout is named, not fatal."""
    parts: list[str] = []
    for name, fn in SECTIONS:
        rep = _load(results, name)
        if rep is None:
            continue
        try:
            lines = fn(rep)
        except (KeyError, TypeError, ValueError) as err:
            lines = [f"(`bench/results/{name}.json` has an unexpected layout: {err!r})"]
        parts += ["", *lines]
    return "\n".join(parts).strip() + "\n"


def _summary(rep: dict[str, Any]) -> list[str]:
    return [f"Last `make bench`: {rep['total_wall_s'] / 60:.1f} minutes in all; load average "
            f"at the end {rep['loadavg_end'][0]}; benchmarks: "
            + ", ".join(f"{e['benchmark']} ({e['wall_s']:.0f} s, {e['status']})"
                        for e in rep["benchmarks"]) + "."]


def _train(rep: dict[str, Any]) -> list[str]:
    s = rep["settings"]
    if "datasets" not in rep:  # one dataset, the layout before length grouping
        return _rows(rep, f"**Training** (`bench/train.py`; {s['rows']} pairs, batch "
                     f"{s['batch_size']}, max_seq_length {s['max_seq_length']}, "
                     f"{s['epochs']:g} epoch, MNRL):",
                     [("pairs_per_s", "pairs/s", 1), ("vs_st_script", "vs plain ST", 2),
                      ("peak_rss_mb", "peak MB", 0)])
    out = [f"**Training** (`bench/train.py`; {s['pairs']} pairs per dataset, batch "
           f"{s['batch_size']}, max_seq_length {s['max_seq_length']}, 1 epoch, MNRL; quality "
           "after training: held-out pair MRR@10 and kNN routing accuracy):", "",
           "| data | system | best pairs/s | vs plain ST, per round | pair MRR@10 | routing acc "
           "| peak MB |",
           "|---|---|---|---|---|---|---|"]
    for ds in rep["datasets"]:
        for r in ds["results"]:
            rounds = " / ".join(_f(x, 2) for x in r.get("vs_st_script_per_round",
                                                          [r["vs_st_script"]]))
            out.append(f"| {ds['dataset']} | {r['system']} | {_f(r['pairs_per_s'])} | "
                       f"{rounds} | {_f(r.get('pair_mrr@10'), 3)} | "
                       f"{_f(r.get('routing_acc'), 3)} | {_f(r['peak_rss_mb'], 0)} |")
    if rep.get("notes"):
        out += ["", rep["notes"]]
    inter = rep.get("interleaved")
    if inter:
        out += ["", "Step-interleaved in one process (`python -m bench.train --interleaved`: "
                "both batchings' training steps alternated, so machine load hits both alike; "
                f"{inter['settings']['pairs']} pairs, same model, loss, optimizer):", "",
                "| data | system | pairs/s | vs plain ST | padded positions vs ST |",
                "|---|---|---|---|---|"]
        for ds in inter["datasets"]:
            for r in ds["results"]:
                out.append(f"| {ds['dataset']} | {r['system']} | {_f(r['pairs_per_s'], 2)} | "
                           f"{_f(r['vs_st_script'], 2)} | {_f(1 / r['positions_vs_st'], 2)} |")
    return out


def _search(rep: dict[str, Any]) -> list[str]:
    s = rep["settings"]
    return _rows(rep, f"**Vector search** (`bench/search.py`; {s['n']:,} vectors, dim {s['dim']}, "
                 f"{s['queries']} queries, recall against exact search; `chosen`: the cheapest "
                 f"ef reaching {s.get('recall_target', 0.95)}):",
                 [("recall@10", "recall@10", 3), ("p50_ms", "p50 ms", 2), ("p99_ms", "p99 ms", 2),
                  ("build_s", "build s", 0), ("memory_mb_per_million", "MB per 1M", 0),
                  ("chosen", "chosen", 0)])


def _keyword(rep: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for ds in rep["datasets"]:
        out += ["", *_rows(ds, f"**Keyword search** (`bench/keyword_search.py`, {ds['dataset']}):",
                           [("mrr@10", "MRR@10", 3), ("index_s", "index s", 2),
                            ("query_p50_ms", "query p50 ms", 2),
                            ("update_one_ticket_ms", "update 1 ticket ms", 3),
                            ("top10_overlap_to_bm25s", "top-10 overlap to bm25s", 3)])]
    return out[1:]


def _load_test(rep: dict[str, Any]) -> list[str]:
    s = rep["settings"]
    champion = f"; champion's mode: {s['champion_mode']}" if s.get("champion_mode") else ""
    out = _rows(rep, f"**Service under load** (`bench/load.py`; {s['tickets']:,} tickets, "
                f"{s['clients']} clients, adds and deletes running{champion}):",
                [("search_requests", "searches", 0), ("queries_per_s", "searches/s", 1),
                 ("p50_ms", "p50 ms", 0), ("p99_ms", "p99 ms", 0), ("search_errors", "errors", 0),
                 ("adds_missing_after", "adds lost", 0)])
    for prev in rep.get("previous") or []:  # the run this one replaced
        out.append(f"| before: {prev.get('system')} | - | {_cell(prev.get('queries_per_s'), 1)} | "
                   f"{_cell(prev.get('p50_ms'), 0)} | {_cell(prev.get('p99_ms'), 0)} | - | - |")
    return out


def _pipeline(rep: dict[str, Any]) -> list[str]:
    if "datasets" not in rep:  # the demo-only layout
        return _rows(rep, f"**End to end** (`bench/pipeline.py`; `ticketsim run` on "
                     f"{rep['settings']['tickets']:,} demo tickets):",
                     [("wall_s", "wall s", 0), ("pairs_s", "pairs s", 0),
                      ("train_s", "train s", 0), ("evaluate_s", "evaluate s", 0),
                      ("index_s", "index s", 0), ("finetuned_mrr@10", "fine-tuned MRR@10", 3)])
    out = ["**End to end** (`bench/pipeline.py`; `ticketsim run`, cold, wall s and peak MB "
           "per stage):", "",
           "| data | wall s | " + " | ".join(STAGE_NAMES) + " | peak MB | warm rerun s |",
           "|---|---|" + "---|" * len(STAGE_NAMES) + "---|---|"]
    refs = []
    for ds in rep["datasets"]:
        cold, warm = ds["results"][0], (ds["results"][1:] or [{}])[0]
        cells = [f"{_f(cold['stages'][st]['wall_s'], 0)} ({_f(cold['stages'][st]['peak_rss_mb'], 0)}"
                 " MB)" for st in STAGE_NAMES]
        name = ds["dataset"] + (f" (earlier run, {ds['finished']})" if ds.get("reused") else "")
        out.append(f"| {name} | {_f(cold['wall_s'], 0)} | " + " | ".join(cells)
                   + f" | {_f(cold.get('peak_rss_mb'), 0)} | {_f(warm.get('wall_s'), 1)} |")
        if ds.get("plain_reference"):
            refs.append((ds["dataset"], ds["plain_reference"]))
    for name, ref in refs:
        tr, en = ref["train"], ref["encode"]
        out += ["", f"Plain sentence-transformers next to the {name} run, on its own data "
                f"(training: {tr['pairs']} of its pairs, batch {tr['batch_size']}, "
                f"{tr['max_seq_length']} tokens, MNRL, steps interleaved; encoding: "
                f"{en['texts']:,} of its tickets with the served model, each encoder in its own process, "
                f"plain/served/served/plain):", "",
                "| step | system | per s | vs plain ST |", "|---|---|---|---|"]
        out += [f"| train | {r['system']} | {_f(r['pairs_per_s'], 2)} pairs | "
                f"{_f(r['vs_st_script'], 2)}x |" for r in tr["results"]]
        served = f"ticketsim ({en['encoder']})"
        out += [f"| encode | {served if r['system'] == 'ticketsim' else r['system']} | "
                f"{_f(r['texts_per_s'], 1)} texts | {_f(r['vs_st_encode'], 2)}x |"
                for r in en["results"]]
    for c in rep.get("comparisons") or []:
        r = c.get("routing")
        if r:
            out += ["", f"Held-out routing ({c['dataset']}, {r['n']:,} tickets, served model, "
                    f"kNN {r['field']}): with the speed-ups {r['fast_accuracy']:.3f}, without "
                    f"{r['plain_accuracy']:.3f}, difference {r['diff']:+.3f} (95 % paired "
                    f"bootstrap {r['ci95'][0]:+.3f} to {r['ci95'][1]:+.3f}); cold wall s "
                    f"{c['cold_s']['fast']:.0f} vs {c['cold_s']['plain']:.0f}."]
    return out


STAGE_NAMES = ["ingest", "pairs", "train", "evaluate", "index"]


def _diff(d: dict[str, Any] | None) -> str:
    return "-" if not d else f"{d['diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"


def _quality(rep: dict[str, Any]) -> list[str]:
    out = ["**Quality ablation** (`bench/quality.py`; SeaMonkey: MRR@10 with the paired 95 % "
           "interval of the difference to the base model under both `evaluate.protocol`s (the "
           "cross-fitted runs: to evaluate's base row, and to the base model off the shelf, 256 "
           "tokens, no lead view; `<recipe> + lead`: the fine-tuned model read with the lead "
           "view; `<recipe>, served`: what the champion rule serves, each fold's queries scored "
           "with the system it chose on the other folds'); Endava: held-out routing accuracy "
           "against kNN and TF-IDF + LR):", "",
           "| data | system | queries / test | MRR@10 or accuracy | vs base | vs base, off the "
           "shelf | vs kNN | vs TF-IDF + LR |", "|---|---|---|---|---|---|---|---|"]
    for ds in rep["datasets"]:
        for r in ds["results"]:
            value = r.get("mrr@10", r.get("accuracy"))
            out.append(f"| {ds['dataset']} | {r['system']} | {r.get('queries', r.get('test'))} | "
                       f"{_f(value, 3)} | {_diff(r.get('vs_base') or r.get('vs_base_model'))} | "
                       f"{_diff(r.get('vs_plain_base'))} | "
                       f"{_diff(r.get('vs_knn'))} | {_diff(r.get('vs_tfidf-lr'))} |")
    for s in rep.get("skipped", []):
        out += ["", f"Not measured: {s}."]
    return out


def _cold_search(rep: dict[str, Any]) -> list[str]:
    s = rep["settings"]
    return _rows(rep, f"**Cold CLI search** (`bench/cold_search.py`; a fresh `ticketsim search` "
                 f"process over {s['tickets']} tickets vs a bare `import sentence_transformers`, "
                 f"median of {s['reps']}; goal: onnx at most {s['goal_vs_import_st']}x):",
                 [("median_s", "median s", 2), ("vs_import_st", "vs import ST", 2)])


SECTIONS = [("summary", _summary), ("encode", _encode), ("train", _train), ("search", _search),
            ("keyword_search", _keyword), ("load", _load_test), ("pipeline", _pipeline),
            ("cold_search", _cold_search), ("quality", _quality),
            # make bench-large's results, when present (the desk-scale tables of issue 20)
            ("load-large", _load_test), ("pipeline-large", _pipeline)]


def update_readme(results: Path, readme: Path) -> None:
    """Replace the text between the bench markers in ``readme`` (atomically)."""
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: markers {START} / {END} not found")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{render(results)}{END}{tail}"
    tmp = readme.with_suffix(".md.tmp")
    tmp.write_text(new)
    os.replace(tmp, readme)


if __name__ == "__main__":
    update_readme(RESULTS, ROOT / "README.md")
    sys.stdout.write(render(RESULTS))
