"""Ray Data embedding: embed a very large ticket history on a Ray cluster into shards the index loads.

What it does: reads ``tickets.parquet`` (``id``, ``text``) with Ray Data, embeds it with
``map_batches`` over a pool of actors (each loads the encoder once, through
:func:`ticketsim.inference.load_encoder`), streams the results back to the driver and
writes them as parquet shards (``part-NNNNN.parquet``: ``id`` string, ``vector``
fixed-size list of float32) plus ``manifest.json`` (model fingerprint, encoder, dim,
rows, shard list). The folder is written beside its final place and renamed into it,
so a killed run leaves the previous shards intact. ``index.embeddings`` points the
index stage at the folder instead of embedding there (:func:`load_shards` checks the
model fingerprint and that every ticket has a vector).

When to pick it: when one machine embeds the history too slowly (millions of tickets);
below that ``ticketsim index`` embeds locally with less ceremony (docs/search.md has
numbers). Needs the ``ray`` extra (``ray[data]``); on a cluster (``address``) the
tickets file and the model folder must be readable at the same path on every node
(shared storage), and every node needs ticketsim installed. Reading shards needs only
pyarrow, not Ray.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ticketsim.errors import TicketsimError
from ticketsim.index.embed import fingerprint_of
from ticketsim.inference import BACKENDS, load_encoder, onnx_source
from ticketsim.inference.lead import with_lead
from ticketsim.inference.longtext import with_long_text
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import atomic_write_json, file_hash, recover_dir, replace_dir

if TYPE_CHECKING:
    import pyarrow as pa

    from ticketsim.config import Config
    from ticketsim.rundir import RunDir

MANIFEST = "manifest.json"
FORMAT = "ticketsim-embeddings/1"
FOLDER = "embeddings"


class _EmbedActor:
    """One Ray actor: loads the encoder once, then embeds every batch it is given."""

    def __init__(self, model: str, backend: str, batch_size: int, threads: int | None,
                 long_text: str = "truncate", lead_weight: float = 0.0) -> None:
        # read as the index reads (index.long_text, index.lead_weight): the vectors are its
        self.encoder = with_lead(with_long_text(load_encoder(model, backend, threads=threads),
                                                long_text), lead_weight)
        self.batch_size = batch_size

    def __call__(self, batch: pa.Table) -> pa.Table:
        import pyarrow as pa

        vecs = self.encoder.encode([str(t) for t in batch.column("text").to_pylist()],
                                   batch_size=self.batch_size)
        return pa.table({"id": batch.column("id").cast(pa.string()),
                         "vector": _vector_array(vecs)})


def _vector_array(vectors: np.ndarray) -> pa.FixedSizeListArray:
    """Plain Arrow fixed-size lists (not Ray's tensor extension), so pyarrow alone reads them."""
    import pyarrow as pa

    v = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1)), int(v.shape[1]))


def _start_ray(address: str | None, num_workers: int, cpus_per_worker: int) -> bool:
    """Connect to ``address`` or start a local instance; True when this call started Ray."""
    import ray

    if ray.is_initialized():
        return False
    ray_logger = logging.getLogger("ray")  # the library stays silent unless the app logs
    if not any(isinstance(h, logging.NullHandler) for h in ray_logger.handlers):
        ray_logger.addHandler(logging.NullHandler())
    common: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "configure_logging": False}
    if address:
        ray.init(address=address, **common)
    else:
        # one CPU more than the actors hold: the parquet read tasks need one to run at all
        ray.init(num_cpus=num_workers * cpus_per_worker + 1, **common)
    return True


def embed_with_ray(tickets_parquet: str | Path, model_path: str | Path, out_dir: str | Path, *,
                   address: str | None = None, num_workers: int = 2, batch_size: int = 64,
                   backend: str = "torch", cpus_per_worker: int = 1,
                   shard_rows: int = 100_000, cache_dir: str | Path | None = None,
                   long_text: str = "truncate", lead_weight: float = 0.0,
                   reporter: Reporter = NULL) -> dict[str, Any]:
    """Embed every ticket with Ray Data into parquet shards + manifest in ``out_dir``; returns the manifest.

    ``address``: a Ray cluster (``ray://head:10001`` or ``auto``); None starts a local
    instance with ``num_workers * cpus_per_worker + 1`` CPUs (the read tasks need the
    extra one; a cluster needs it free as well) and shuts it down afterwards.
    ``num_workers`` actors each hold one encoder (``backend``: torch, onnx, onnx-int8;
    the ONNX export is made once here, into ``cache_dir``) using ``cpus_per_worker``
    threads. ``shard_rows``: rows per shard file. ``long_text`` / ``lead_weight``: the
    reading of ``index.long_text`` / ``index.lead_weight`` (recorded in the manifest).
    """
    try:
        import ray
        import ray.data
    except ImportError as exc:  # pragma: no cover - optional extra
        raise TicketsimError("Ray Data embedding needs Ray", hint="pip install 'ticketsim[ray]'") from exc
    import pyarrow.parquet as pq


    tickets_parquet, out_dir = Path(tickets_parquet), Path(out_dir)
    if backend not in BACKENDS:
        raise TicketsimError(f"unknown inference backend '{backend}'", field="index.encoder",
                             hint=f"use one of {', '.join(BACKENDS)}")
    if num_workers < 1 or cpus_per_worker < 1 or shard_rows < 1:
        raise TicketsimError("num_workers, cpus_per_worker and shard_rows must be at least 1")
    if not tickets_parquet.is_file():
        raise TicketsimError("tickets file not found", file=tickets_parquet,
                             hint="run `ticketsim ingest` first")
    total = pq.ParquetFile(tickets_parquet).metadata.num_rows
    source = str(onnx_source(str(model_path), backend, cache_dir=cache_dir, reporter=reporter))

    recover_dir(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    started = False
    t0 = time.perf_counter()
    try:
        reporter.log(f"ray: {'connecting to ' + address if address else 'starting a local instance'}"
                     f" ({num_workers} workers)")
        started = _start_ray(address, num_workers, cpus_per_worker)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        ctx.max_consecutive_actor_init_deaths = 2  # a model that cannot load fails fast
        t_ready = time.perf_counter()
        ds = ray.data.read_parquet(str(tickets_parquet.resolve()), columns=["id", "text"])
        # an export is often one row group: split it so that every actor gets work
        ds = ds.repartition(max(num_workers * 4, -(-total // (batch_size * 64))))
        ds = ds.map_batches(
            _EmbedActor, batch_format="pyarrow", batch_size=max(batch_size * 8, 256),
            compute=ray.data.ActorPoolStrategy(size=num_workers), num_cpus=cpus_per_worker,
            fn_constructor_kwargs={"model": source, "backend": backend, "batch_size": batch_size,
                                   "threads": cpus_per_worker, "long_text": long_text,
                                   "lead_weight": lead_weight})
        shards: list[dict[str, Any]] = []
        dim = 0
        batches: Iterable[Any] = ds.iter_batches(batch_size=shard_rows, batch_format="pyarrow")
        for table in reporter.track(batches, total=-(-total // shard_rows) or 1,
                                    description="embedding (ray)"):
            if not table.num_rows:
                continue
            dim = table.schema.field("vector").type.list_size
            name = f"part-{len(shards):05d}.parquet"
            pq.write_table(table, tmp / name)
            shards.append({"file": name, "rows": table.num_rows})
        seconds = time.perf_counter() - t_ready
        rows = sum(s["rows"] for s in shards)
        manifest = {
            "format": FORMAT, "model_path": str(model_path),
            "model_fingerprint": fingerprint_of(str(model_path)), "encoder": backend,
            "long_text": long_text, "lead_weight": lead_weight, "dim": int(dim), "rows": rows, "shards": shards,
            "tickets": str(tickets_parquet), "tickets_hash": file_hash(tickets_parquet),
            "address": address, "workers": num_workers, "cpus_per_worker": cpus_per_worker,
            "batch_size": batch_size, "embed_s": round(seconds, 2),
            "startup_s": round(t_ready - t0, 2),
            "tickets_per_s": round(rows / seconds, 1) if seconds > 0 else None,
        }
        if rows != total:
            raise TicketsimError(f"Ray returned {rows} vectors for {total} tickets",
                                 file=tickets_parquet, hint="rerun `ticketsim embed`")
        atomic_write_json(tmp / MANIFEST, manifest)
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if started:
            ray.shutdown()
    reporter.log(f"ray: {rows} tickets embedded in {manifest['embed_s']} s "
                 f"({manifest['tickets_per_s']}/s, {len(shards)} shards) -> {out_dir}")
    return manifest


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a shard folder, or a clear error saying how to make one."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise TicketsimError("no embedding shards here (manifest.json missing)", file=path,
                             field="index.embeddings",
                             hint="run `ticketsim embed --run-dir RUN` or set index.embeddings: null"
                             ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise TicketsimError(f"unreadable manifest: {exc}", file=path, field="index.embeddings",
                             hint="rerun `ticketsim embed`") from None
    if manifest.get("format") != FORMAT:
        raise TicketsimError(f"not a ticketsim shard manifest (format {manifest.get('format')!r})",
                             file=path, field="format", hint="rerun `ticketsim embed`")
    return manifest


def manifest_hash(folder: str | Path) -> str:
    """Hash of the manifest (it lists every shard): a changed embedding reruns the index stage."""
    read_manifest(folder)
    return file_hash(Path(folder) / MANIFEST)


def load_shards(folder: str | Path, ids: Sequence[str], *, model_fingerprint: str,
                encoder: str | None = None, reading: dict[str, Any] | None = None,
                ) -> np.ndarray:
    """Vectors for ``ids`` (in that order) from a shard folder, after checking it fits the index.

    Refuses shards embedded by another model (fingerprint) or encoder backend, and shards
    that lack a vector for some ticket (the tickets changed since ``ticketsim embed``).
    """
    import pandas as pd
    import pyarrow.parquet as pq

    folder = Path(folder)
    manifest = read_manifest(folder)
    mpath = folder / MANIFEST
    if manifest.get("model_fingerprint") != model_fingerprint:
        raise TicketsimError(
            f"shards were embedded by model {manifest.get('model_path')} (fingerprint "
            f"{manifest.get('model_fingerprint')}), the index uses fingerprint {model_fingerprint}",
            file=mpath, field="model_fingerprint",
            hint="rerun `ticketsim embed` with the index's model (after training finished)")
    if encoder is not None and manifest.get("encoder") != encoder:
        raise TicketsimError(
            f"shards were embedded with encoder {manifest.get('encoder')!r}, index.encoder is "
            f"{encoder!r}", file=mpath, field="encoder",
            hint="rerun `ticketsim embed` or set index.encoder to match")
    for key, want in (reading or {}).items():  # long_text, lead_weight: how texts were read
        got = manifest.get(key, {"long_text": "truncate", "lead_weight": 0.0}.get(key))
        if got != want:
            raise TicketsimError(
                f"shards were embedded with {key} {got!r}, index.{key} is {want!r}",
                file=mpath, field=key, hint=f"rerun `ticketsim embed` or set index.{key} to match")
    dim = int(manifest["dim"])
    id_parts, vec_parts = [], []
    for shard in manifest.get("shards", []):
        path = folder / shard["file"]
        try:
            table = pq.read_table(path, columns=["id", "vector"])
        except (OSError, KeyError) as exc:
            raise TicketsimError(f"unreadable shard: {exc}", file=path,
                                 hint="rerun `ticketsim embed`") from None
        col = table.column("vector").combine_chunks()
        values = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        if len(values) != table.num_rows * dim:
            raise TicketsimError(f"vectors are not {dim}-dimensional", file=path, field="vector",
                                 hint="rerun `ticketsim embed`")
        id_parts.append(table.column("id").to_pandas().astype(str))
        vec_parts.append(values.reshape(table.num_rows, dim))
    have = pd.Index(pd.concat(id_parts, ignore_index=True) if id_parts else pd.Series([], dtype=str))
    vectors = np.concatenate(vec_parts) if vec_parts else np.zeros((0, dim), np.float32)
    if have.has_duplicates:
        keep = ~have.duplicated(keep="last")
        have, vectors = have[keep], vectors[np.asarray(keep)]
    pos = have.get_indexer(pd.Index([str(i) for i in ids]))
    missing = [str(ids[int(i)]) for i in np.flatnonzero(pos < 0)]
    if missing:
        raise TicketsimError(
            f"{len(missing)} of {len(ids)} tickets have no vector in the shards (e.g. "
            f"{', '.join(missing[:5])})", file=folder, field="id",
            hint="the tickets changed since `ticketsim embed`: rerun it")
    return np.ascontiguousarray(vectors[pos], dtype=np.float32)


def embed_run(cfg: Config, run: RunDir, *, address: str | None = None, num_workers: int = 2,
              cpus_per_worker: int = 1, reporter: Reporter = NULL,
              model: str | None = None) -> dict[str, Any]:
    """``ticketsim embed``: the run's tickets, with the index's model (or ``model``, as
    ``index --model``) and encoder, into ``run_dir/embeddings``."""
    from ticketsim.data.ingest import IngestOutput  # both load pandas: only embed_run needs them
    from ticketsim.index.model import index_model, index_reading

    tickets = IngestOutput.read(run, "embed").tickets_path
    return embed_with_ray(tickets, index_model(cfg, run, model), run.path / FOLDER, address=address,
                          num_workers=num_workers, batch_size=cfg.index.batch_size,
                          backend=cfg.index.encoder, cpus_per_worker=cpus_per_worker,
                          cache_dir=run.path / "cache", **index_reading(cfg, run, model).reading(),
                          reporter=reporter)
