"""The index stage: embed every ingested ticket and build the search index in the run directory.

Output (``run_dir/index``): ``meta.json`` (backend, precision, dims, the model's path and
weights fingerprint, column names), ``tickets.sqlite`` (ids, metadata, vectors, the FTS5
keyword index, the update journal) and the backend's files (``ann-<seq>.usearch`` or a
local Qdrant folder). The folder is written through ``RunDir.stage``: a killed build
leaves the previous index in place.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ticketsim.config import Config, IndexConfig
from ticketsim.data.ingest import IngestOutput
from ticketsim.index.core import TicketIndex
from ticketsim.index.embed import fingerprint_of, ticket_records
from ticketsim.index.model import index_model, index_reading
from ticketsim.index.qdrant_backend import alias_swap  # Qdrant server: build aside, swap alias
from ticketsim.index.ray_embed import load_shards, manifest_hash
from ticketsim.index.routing import routing_lead, train_routing
from ticketsim.inference import encoder_for, pick_backend
from ticketsim.inference.lead import add_lead
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import Output, RunDir, StageResult, atomic_write_json, combine_hashes

STAGE = "index"
META = "meta.json"


def build_meta(icfg: IndexConfig, *, full_dim: int, model_path: str, model_fp: str,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """meta.json contents: build-time settings plus the model stamp."""
    dim = min(icfg.dim or full_dim, full_dim)
    meta = {"backend": icfg.backend, "precision": icfg.precision, "dim": dim, "full_dim": full_dim,
            "model_path": model_path, "model_fingerprint": model_fp, "encoder": icfg.encoder,
            "connectivity": icfg.connectivity, "expansion_add": icfg.expansion_add,
            "expansion_search": icfg.expansion_search, "exact_below": icfg.exact_below,
            "status_column": icfg.status_column, "qdrant_url": icfg.qdrant_url,
            "qdrant_collection": icfg.qdrant_collection}
    meta.update(extra or {})
    return meta


def ticket_meta(cfg: Config, icfg: IndexConfig, tickets: Any, full_dim: int,
                model_path: str, stored_path: str | None = None) -> dict[str, Any]:
    """meta.json of an index of ``tickets`` embedded by ``model_path`` (index stage and evaluate);
    ``stored_path``: how meta.json names the model (relative to the run directory)."""
    return build_meta(icfg, full_dim=full_dim, model_path=stored_path or model_path,
                      model_fp=fingerprint_of(model_path),
                      extra={"extra_columns": [c for c in tickets.columns if c not in (
                          "id", "short_description", "description", "category", "subcategory",
                          "created", "text")], "text_template": cfg.data.text_template,
                             **icfg.reading()})


def build_index(folder: Path, meta: dict[str, Any], tickets: Any, vectors: np.ndarray,
                save_every: int = 1000, reporter: Reporter = NULL) -> dict[str, Any]:
    """Write an index of ``tickets`` (tickets.parquet rows) with their ``vectors`` into ``folder``.

    The one way an index is built: the index stage builds the served one, ``evaluate`` a
    temporary one per model, so both rank through the same store, backend and keyword table.
    """
    records = ticket_records(tickets)
    texts = tickets["text"].tolist()
    t1 = time.perf_counter()
    idx = TicketIndex.create(folder, meta, save_every=max(save_every, len(records) + 1))
    step = 5000
    for i in reporter.track(range(0, len(records), step), total=-(-len(records) // step) or 1,
                            description="indexing"):
        recs = [dict(r, text=t) for r, t in zip(records[i:i + step], texts[i:i + step],
                                                strict=True)]
        idx.upsert(recs, np.asarray(vectors[i:i + step]))
    idx.flush()
    summary = {"tickets": len(idx), "backend": meta["backend"], "precision": meta["precision"],
               "encoder": meta["encoder"], "dim": meta["dim"], "model": meta["model_path"],
               "build_s": round(time.perf_counter() - t1, 2)}
    idx.close()
    return summary


def inputs_hash(cfg: Config, run: RunDir, model_path: str) -> str:
    ingest = run.read_stamp("ingest") or {}
    train = run.read_stamp("train") or {}
    return combine_hashes(ingest.get("inputs_hash"), train.get("inputs_hash", model_path),
                          cfg.index.fingerprint(), model_path)  # the champion may switch model


def run_index(cfg: Config, run: RunDir, *, force: bool = False, reporter: Reporter = NULL,
              model: str | None = None) -> StageResult:
    """Embed all tickets (batches, progress bar) and build the index; skipped when inputs are unchanged.

    ``model``: ``finetuned``, ``base`` or a model folder instead of the champion's model
    (``index --model``, see :func:`ticketsim.index.model.index_model`).
    """
    ingest = IngestOutput.read(run, STAGE)
    model_path = index_model(cfg, run, model)
    icfg = index_reading(cfg, run, model)  # lead_weight auto: the champion's reading
    h = combine_hashes(inputs_hash(cfg, run, model_path), icfg.reading())
    if cfg.index.embeddings is not None:  # vectors from `ticketsim embed`: rerun when they change
        h = combine_hashes(h, manifest_hash(cfg.index.embeddings))
    meta: dict[str, Any] = {}

    def build() -> Output:
        nonlocal icfg
        tickets = ingest.tickets()
        if icfg.encoder == "auto":  # the sample's vectors are in the cache when evaluate chose
            backend, _ = pick_backend(model_path, tickets["text"].tolist(),
                                      cache_dir=run.path / "cache",
                                      min_cosine=cfg.index.int8_min_cosine, reporter=reporter)
            icfg = icfg.model_copy(update={"encoder": backend})
        t0 = time.perf_counter()
        texts = tickets["text"].tolist()
        encoder = None
        if icfg.embeddings is not None:
            vectors = load_shards(icfg.embeddings, tickets["id"].tolist(),
                                  model_fingerprint=fingerprint_of(model_path), encoder=icfg.encoder,
                                  reading=icfg.reading())
        else:
            # one encoder (one model load) for the tickets and, below, their leads
            encoder = encoder_for(model_path, icfg.encoder, cache_dir=run.path / "cache",
                                  **icfg.reading(), reporter=reporter)
            vectors = encoder.encode(texts, icfg.batch_size, reporter)
        summary: dict[str, Any] = {"embed_s": round(time.perf_counter() - t0, 2)}
        meta.update(ticket_meta(cfg, icfg, tickets, int(vectors.shape[1]), model_path,
                                run.rel(model_path)))

        lead = None
        lead_weight = routing_lead(icfg, icfg.reading()["lead_weight"])  # 0 for shards
        if lead_weight and encoder is not None:  # routing's other reading: with the lead
            t1 = time.perf_counter()
            lead = add_lead(vectors, texts, encoder, lead_weight, icfg.batch_size, reporter)
            summary["routing_lead_s"] = round(time.perf_counter() - t1, 2)

        def save(tmp: Path) -> None:
            summary.update(build_index(tmp, meta, tickets, vectors, icfg.save_every, reporter))
            if icfg.routing:  # routing suggestions: a head per label field on these vectors
                summary["routing"], summary["routing_reading"] = train_routing(
                    tmp, vectors, tickets, icfg, meta["model_fingerprint"], lead, lead_weight)
            atomic_write_json(tmp / META, meta)

        return Output(summary, save)

    result = run.produce(STAGE, h, build, force=force, reporter=reporter,
                         around=lambda: alias_swap(meta))
    if not result.skipped:
        reporter.log(f"index: {result.summary['tickets']} tickets, {icfg.backend}/{icfg.precision}, "
                     f"dim {meta['dim']}")
    return result


@dataclasses.dataclass(frozen=True)
class IndexOutput:
    """The index stage's artifacts: its build settings (meta.json) and summary."""

    folder: Path
    meta: dict[str, Any]
    summary: dict[str, Any]

    @classmethod
    def read(cls, run: RunDir, what: str | None = None) -> IndexOutput:
        """The finished index of ``run`` (a clear error naming the command when it has not run)."""
        folder = run.require(STAGE, what)
        return cls(folder, json.loads((folder / META).read_text()), run.summary(STAGE))
