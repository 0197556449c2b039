"""Loopback load test of ``ticketsim serve``: /search by text while tickets are added and deleted.

Builds a run directory whose index holds ``--n`` tickets (vectors derived from real
Endava ticket embeddings by bench/search.py's mixtures, each carrying the text of
the real ticket it mostly comes from; the index is stamped with the default MiniLM,
which embeds the queries), starts ``ticketsim serve`` on 127.0.0.1 as a subprocess,
and for ``--duration`` seconds (at most ``--max-requests`` searches) runs
``--clients`` search clients while one writer adds and deletes tickets. Faults are
mixed in: requests over the documented limits (k > serve.max_k, a body over
serve.max_body_bytes, malformed JSON), a wrong API key, and a forced hot swap
(POST /reload?force=true) halfway. Afterwards every acknowledged add must be
searchable (by id, by a unique keyword, and by its text with dense search) and every
acknowledged delete gone. Reports throughput, p50/p99 latency and errors.

    python -m bench.load                          # 20k tickets, 30 s (make bench)
    python -m bench.load --large                  # 100k tickets, 60 s
    python -m bench.load --n 100000 --duration 60 --out bench/results/load.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import ROOT, emit
from bench.search import DATA, base_embeddings

LIMIT_STATUSES = {413, 422}  # refusals the service documents (size, k, schema)


def build_run(run_dir: Path, n: int, seed: int) -> dict[str, Any]:
    """An index stage of ``n`` tickets from perturbed real embeddings, stamped with MiniLM."""
    import pandas as pd

    from ticketsim.config import Config
    from ticketsim.index.core import TicketIndex
    from ticketsim.index.embed import fingerprint_of
    from ticketsim.index.stage import build_meta
    from ticketsim.models import resolve_model
    from ticketsim.rundir import RunDir, atomic_write_json

    model = resolve_model("default")
    base = base_embeddings(5000)
    df = pd.read_csv(DATA).fillna("").head(len(base))
    titles = df["title"].astype(str).tolist()
    bodies = df["body"].astype(str).tolist()
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    cfg = Config()
    run = RunDir(run_dir)
    meta = build_meta(cfg.index, full_dim=base.shape[1], model_path=model,
                      model_fp=fingerprint_of(model),
                      extra={"extra_columns": ["status", "resolution_notes"],
                             "text_template": cfg.data.text_template})
    with run.stage("index", f"load-{n}-{seed}") as tmp:
        idx = TicketIndex.create(tmp, meta, save_every=n + 1)
        step = 10000
        for s in range(0, n, step):
            m = min(step, n - s)
            i, j = rng.integers(0, len(base), m), rng.integers(0, len(base), m)
            a = rng.uniform(0.6, 1.0, (m, 1)).astype(np.float32)
            v = a * base[i] + (1 - a) * base[j] + 0.03 * rng.normal(size=(m, base.shape[1])).astype(
                np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            recs = [{"id": f"L{s + r:07d}", "short_description": titles[i[r]],
                     "description": bodies[i[r]], "category": str(df["category"].iloc[i[r]]),
                     "subcategory": "", "created": None, "status": "closed",
                     "resolution_notes": f"resolved L{s + r:07d}",
                     "text": f"{titles[i[r]]}. {bodies[i[r]]}"} for r in range(m)]
            idx.upsert(recs, v)
        idx.flush()
        idx.close()
        atomic_write_json(tmp / "meta.json", meta)
        atomic_write_json(tmp / "summary.json", {"tickets": n})
    return {"build_s": round(time.perf_counter() - t0, 1), "queries": [
        f"{t}. {b}"[:300] for t, b in zip(titles, bodies, strict=True) if t or b]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(run_dir: Path, port: int, key: str, log: Path) -> subprocess.Popen:
    env = dict(os.environ, TICKETSIM_API_KEY=key, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    exe = Path(sys.executable).parent / "ticketsim"
    cmd = [str(exe), "serve", "--run-dir", str(run_dir), "--port", str(port),
           "--set", "serve.reload_poll_seconds=0", "--set",
           f"data.links_store={run_dir / 'links.sqlite'}"]
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)


def wait_healthy(client: Any, proc: subprocess.Popen, timeout: float = 180) -> float:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"ticketsim serve exited with {proc.returncode}")
        try:
            if client.get("/health").status_code == 200:
                return time.time() - t0
        except Exception:
            pass
        time.sleep(0.5)
    raise SystemExit("ticketsim serve did not become healthy")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run_load(base: str, key: str, queries: list[str], args: argparse.Namespace,
             mode: str = "mixed") -> dict[str, Any]:
    """One load round; ``mode``: mixed (dense 2/3, hybrid 1/3), dense, hybrid, keyword, or
    champion (requests name no mode: the service searches with the champion's)."""
    import httpx

    headers = {"X-API-Key": key}
    stop = threading.Event()
    lock = threading.Lock()
    lat: list[float] = []
    statuses: dict[str, int] = {}
    failures: list[str] = []
    searches = [0]
    added: dict[str, str] = {}  # id -> unique token, acknowledged
    deleted: set[str] = set()
    writes = {"add": 0, "delete": 0, "write_errors": 0}
    faults = {"sent": 0, "refused_as_documented": 0, "unexpected": 0}

    def count(kind: str, status: int) -> None:
        with lock:
            statuses[f"{kind}:{status}"] = statuses.get(f"{kind}:{status}", 0) + 1

    def searcher(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            while not stop.is_set():
                with lock:
                    if searches[0] >= args.max_requests:
                        stop.set()
                        break
                    searches[0] += 1
                body: dict[str, Any] = {"text": rng.choice(queries), "k": 10}
                if mode == "mixed":
                    body["mode"] = rng.choice(["dense", "dense", "hybrid"])
                elif mode != "champion":  # champion: no mode, the service's own choice
                    body["mode"] = mode
                t0 = time.perf_counter()
                try:
                    r = c.post("/search", json=body)
                    status = r.status_code
                except Exception as exc:
                    status = 0
                    with lock:
                        failures.append(f"search: {exc}")
                dt = time.perf_counter() - t0
                count("search", status)
                with lock:
                    if status == 200:
                        lat.append(dt)
                    elif status:
                        failures.append(f"search {status}: {r.text[:200]}")

    def writer() -> None:
        rng = random.Random(99)
        n = 0
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            while not stop.is_set():
                n += 1
                if n % 4 == 0 and added:
                    tid = rng.choice(sorted(set(added) - deleted) or [None]) if rng.random() < .5 \
                        else f"L{rng.randrange(args.n):07d}"
                    if tid is None or tid in deleted:
                        continue
                    r = c.delete(f"/tickets/{tid}")
                    count("delete", r.status_code)
                    if r.status_code == 200:
                        with lock:
                            deleted.add(tid)
                            writes["delete"] += 1
                    elif r.status_code != 404:
                        writes["write_errors"] += 1
                        failures.append(f"delete {r.status_code}: {r.text[:200]}")
                    continue
                tid, token = f"LOAD{n:06d}", f"zqx{n:06d}load"
                text = f"{rng.choice(queries)[:200]} {token}"
                r = c.post("/tickets", json={"tickets": [{"id": tid, "short_description": token,
                                                          "description": text}]})
                count("add", r.status_code)
                if r.status_code == 200:
                    with lock:
                        added[tid] = token
                        writes["add"] += 1
                else:
                    writes["write_errors"] += 1
                    failures.append(f"add {r.status_code}: {r.text[:200]}")
                time.sleep(args.write_interval)

    def faulty() -> None:
        """Requests the service must refuse as documented, and a forced hot swap halfway."""
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            cases = [
                ("k over max", lambda: c.post("/search", json={"text": "vpn", "k": 100000})),
                ("body too big", lambda: c.post("/search", json={"text": "x" * 2_000_000})),
                ("bad json", lambda: c.post("/search", content=b"{nope",
                                            headers={"content-type": "application/json"})),
                ("unknown key", lambda: c.post("/search", json={"text": "a", "colour": 1})),
            ]
            swapped = False
            t_start = time.time()
            while not stop.is_set():
                for _name, call in cases:
                    r = call()
                    with lock:
                        faults["sent"] += 1
                        if r.status_code in LIMIT_STATUSES:
                            faults["refused_as_documented"] += 1
                        else:
                            faults["unexpected"] += 1
                            failures.append(f"fault {_name}: {r.status_code}")
                r = httpx.post(base + "/search", json={"text": "vpn"},
                               headers={"X-API-Key": "wrong"})
                with lock:
                    faults["sent"] += 1
                    if r.status_code == 401:
                        faults["refused_as_documented"] += 1
                    else:
                        faults["unexpected"] += 1
                if not swapped and time.time() - t_start > args.duration / 2:
                    r = c.post("/reload?force=true")
                    swapped = r.status_code == 200 and r.json()["reloaded"]
                    if not swapped:
                        failures.append(f"reload {r.status_code}: {r.text[:200]}")
                stop.wait(1.0)
            faults["hot_swaps"] = int(swapped)

    threads = [threading.Thread(target=searcher, args=(i,)) for i in range(args.clients)]
    threads += [threading.Thread(target=writer), threading.Thread(target=faulty)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    stop.wait(args.duration)
    stop.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0

    # ---------------------------------------------------------------- afterwards: nothing lost
    missing_add, present_delete, dense_miss = [], [], []
    live = {t: tok for t, tok in added.items() if t not in deleted}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
        for tid, token in live.items():
            r = c.post("/search", json={"text": token, "mode": "keyword", "k": 1})
            if r.status_code != 200 or [h["id"] for h in r.json()["hits"]] != [tid] or \
                    c.get(f"/tickets/{tid}").status_code != 200:
                missing_add.append(tid)
        for tid in rng_sample(sorted(live), 50):
            text = c.get(f"/tickets/{tid}").json()["text"]
            r = c.post("/search", json={"text": text, "k": 10})
            if tid not in [h["id"] for h in r.json()["hits"]]:
                dense_miss.append(tid)
        for tid in deleted:
            if c.get(f"/tickets/{tid}").status_code != 404:
                present_delete.append(tid)
            if tid in added:
                r = c.post("/search", json={"text": added[tid], "mode": "keyword", "k": 5})
                if tid in [h["id"] for h in r.json()["hits"]]:
                    present_delete.append(tid)
        stats = c.get("/stats").json()
    ok = len(lat)
    search_errors = sum(v for k, v in statuses.items() if k.startswith("search:") and k != "search:200")
    return {
        "system": f"serve/{args.n}" + ("" if mode == "mixed" else f"/{mode}"), "mode": mode,
        "tickets": args.n, "clients": args.clients, "wall_s": round(wall, 1),
        "search_requests": searches[0], "search_ok": ok, "search_errors": search_errors,
        "queries_per_s": round(ok / wall, 1), "p50_ms": round(percentile(lat, 50) * 1000, 1),
        "p99_ms": round(percentile(lat, 99) * 1000, 1), "max_ms": round(max(lat, default=0) * 1000, 1),
        "adds_acknowledged": writes["add"], "deletes_acknowledged": writes["delete"],
        "write_errors": writes["write_errors"], "adds_missing_after": len(missing_add),
        "adds_not_in_dense_top10_of_own_text": f"{len(dense_miss)}/{min(50, len(live))}",
        "deletes_still_present": len(present_delete), "faults": faults, "statuses": statuses,
        "failures": failures[:20], "tickets_after": stats["tickets"], "reloads": stats["reloads"],
    }


def rng_sample(items: list[str], k: int) -> list[str]:
    return random.Random(7).sample(items, min(k, len(items)))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20_000, help="Tickets in the index.")
    p.add_argument("--large", action="store_true", help="100,000 tickets, 60 s.")
    p.add_argument("--duration", type=float, default=30.0, help="Seconds of load.")
    p.add_argument("--max-requests", type=int, default=20_000, help="Searches at most.")
    p.add_argument("--clients", type=int, default=4, help="Concurrent search clients.")
    p.add_argument("--write-interval", type=float, default=0.05, help="Pause between writes (s).")
    p.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "bench-load")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="Print the JSON result on stdout.")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--modes", default=None,
                   help="comma-separated rounds, one server: mixed, dense, hybrid, keyword, "
                   "champion (default: mixed; --large: champion,dense,hybrid)")
    args = p.parse_args()
    if args.large:
        args.n, args.duration = max(args.n, 100_000), max(args.duration, 60.0)
    modes = (args.modes or ("champion,dense,hybrid" if args.large else "mixed")).split(",")
    previous = None  # today's numbers (the file this run replaces), shown next to the new ones
    if args.out and args.out.is_file():
        try:
            previous = [{k: r.get(k) for k in ("system", "queries_per_s", "p50_ms", "p99_ms")}
                        for r in json.loads(args.out.read_text()).get("results", [])]
        except (OSError, ValueError):
            previous = None
    if not DATA.is_file():
        result = {"benchmark": "load", "skipped": [f"{DATA} absent"], "settings": {}, "results": []}
        print(json.dumps(result))
        if args.out:
            args.out.write_text(json.dumps(result, indent=2))
        return 0
    import shutil

    import httpx

    run_dir = args.run_dir / f"n{args.n}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    built = build_run(run_dir, args.n, args.seed)
    key = os.urandom(16).hex()
    port = free_port()
    proc = start_server(run_dir, port, key, run_dir / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        startup = wait_healthy(httpx.Client(base_url=base), proc)
        with httpx.Client(base_url=base, headers={"X-API-Key": key}) as c:
            served = c.get("/stats").json()
        rows = [run_load(base, key, built["queries"], args, mode) for mode in modes]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    for row in rows:
        row.update({"index_build_s": built["build_s"], "startup_s": round(startup, 1)})
    row = rows[0]
    result = {"benchmark": "load", "settings": {
        "tickets": args.n, "duration_s": args.duration, "max_requests": args.max_requests,
        "clients": args.clients, "write_interval_s": args.write_interval, "k": 10,
        "modes": ["dense 2/3, hybrid 1/3" if m == "mixed" else m for m in modes],
        "champion_mode": served.get("default_mode"),
        "model": "default (all-MiniLM-L6-v2)", "host": "127.0.0.1",
        "cpus": os.cpu_count(), "load_avg_before": os.getloadavg()[0]},
        "results": rows, "previous": previous}
    ok = all(r["adds_missing_after"] == 0 and r["deletes_still_present"] == 0
             and r["search_errors"] == 0 and r["write_errors"] == 0
             and r["faults"]["unexpected"] == 0 for r in rows)
    result["passed"] = ok
    if emit(result, args.out, args.json):
        return 0 if ok else 1
    for row in rows:
        print(f"load: {row['tickets']} tickets, {row['clients']} clients, {row['wall_s']} s: "
              f"{row['search_ok']} searches ({row['queries_per_s']}/s), p50 {row['p50_ms']} ms, "
              f"p99 {row['p99_ms']} ms, search errors {row['search_errors']}; "
              f"adds {row['adds_acknowledged']} (missing after: {row['adds_missing_after']}), "
              f"deletes {row['deletes_acknowledged']} (still present: {row['deletes_still_present']}); "
              f"faults {row['faults']}")
    for prev in previous or []:
        print(f"  before: {prev}")
    print(f"passed={ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
