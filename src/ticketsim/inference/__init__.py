"""Fast CPU inference: one ``Encoder`` protocol, torch and ONNX Runtime backends, an embedding cache.

Every backend returns L2-normalised float32 embeddings in input order and encodes in
length-sorted batches (texts of similar token length share a batch, so little padding
is computed). Pick a backend with :func:`load_encoder`:

- ``torch``: the sentence-transformers model itself; exact, no extra files.
- ``onnx``: the model exported by :func:`ticketsim.inference.export.export_onnx`, fused for
  BERT and run by onnxruntime; same numbers (cosine >= 0.999), faster on CPU.
- ``onnx-int8``: the same export with dynamically quantised int8 weights; fastest,
  slightly different numbers (check retrieval quality, ``bench/encode.py`` does).

Wrap any of them in :class:`ticketsim.inference.cache.CachedEncoder` so reruns and
multi-system evaluation never embed the same text with the same model twice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ticketsim.errors import TicketsimError
from ticketsim.inference.agreement import agreement as embedding_agreement
from ticketsim.inference.cache import CACHE_FILE, CachedEncoder
from ticketsim.inference.encoder import BACKENDS, Backend, Encoder
from ticketsim.inference.export import export_onnx
from ticketsim.inference.lead import with_lead
from ticketsim.inference.longtext import with_long_text
from ticketsim.inference.onnx_backend import OnnxEncoder
from ticketsim.inference.onnx_meta import META, is_export
from ticketsim.inference.torch_backend import TorchEncoder
from ticketsim.models import model_fingerprint, resolve_model
from ticketsim.progress import NULL, Reporter


def load_encoder(model: str | Path | None, backend: str = "torch", *, threads: int | None = None,
                 max_seq_length: int | None = None) -> Encoder:
    """The encoder for ``model`` on ``backend``.

    ``model`` is a sentence-transformers folder / name for ``torch`` and the folder written by
    ``ticketsim export-onnx`` for the ONNX backends. ``threads``: intra-op threads (default:
    physical cores for ONNX Runtime, torch's own default for torch).
    """
    if backend == "torch":
        return TorchEncoder(model, threads=threads, max_seq_length=max_seq_length)
    if backend in ("onnx", "onnx-int8"):
        if model is None:
            raise TicketsimError(f"backend '{backend}' needs an ONNX export folder",
                                 hint="run `ticketsim export-onnx MODEL_DIR OUT_DIR --int8`")
        return OnnxEncoder(model, int8=backend == "onnx-int8", threads=threads,
                           max_seq_length=max_seq_length)
    raise TicketsimError(f"unknown inference backend '{backend}'",
                         hint=f"use one of {', '.join(BACKENDS)}")


def onnx_source(model: str | Path | None, backend: str, *, cache_dir: str | Path | None = None,
                reporter: Reporter = NULL) -> str | Path | None:
    """What ``load_encoder`` needs for ``backend``: ``model`` itself, or its ONNX export.

    For the ONNX backends a sentence-transformers folder is exported once into
    ``<cache_dir>/onnx-<weights fingerprint>`` (fp32 and int8 graphs) and reused by later
    stages and runs; a folder written by ``ticketsim export-onnx`` is used as it is.
    """
    if backend not in ("onnx", "onnx-int8") or is_export(model):
        return model
    if cache_dir is None:
        raise TicketsimError(
            f"{model}: backend '{backend}' needs an ONNX export",
            hint="run `ticketsim export-onnx MODEL_DIR OUT_DIR --int8` and use OUT_DIR")
    resolved = resolve_model(model)
    folder = Path(cache_dir) / f"onnx-{model_fingerprint(resolved)}"
    if not (folder / META).is_file():
        reporter.log(f"exporting {resolved} to ONNX for the {backend} backend (once per model)")
        export_onnx(resolved, folder, int8=True, reporter=reporter)
    return folder


def encoder_for(model: str | Path | None, backend: str = "torch", *,
                cache_dir: str | Path | None = None, threads: int | None = None,
                cache_embeddings: bool = True, long_text: str = "truncate",
                lead_weight: float = 0.0, reporter: Reporter = NULL) -> Encoder:
    """What a stage should call: the encoder for ``model`` on ``backend``, cached on disk.

    ``model`` is always the sentence-transformers folder (or name); for the ONNX backends it
    may also be an export folder (see :func:`onnx_source`). With ``cache_dir`` (a run
    directory's ``cache/``) and ``cache_embeddings``, embeddings are cached in
    ``<cache_dir>/embeddings.sqlite`` by (encoder fingerprint, text hash); query-time
    callers (search, serve) pass ``cache_embeddings=False`` so every query is not stored.
    ``long_text``: how texts longer than the model's limit are read
    (:mod:`ticketsim.inference.longtext`); ``lead_weight``: how much of the text's opening
    sentence is added to its vector (:mod:`ticketsim.inference.lead`; 0: none).
    """
    if backend not in BACKENDS:
        raise TicketsimError(f"unknown inference backend '{backend}'",
                             hint=f"use one of {', '.join(BACKENDS)}")
    source = onnx_source(model, backend, cache_dir=cache_dir, reporter=reporter)
    encoder: Encoder = load_encoder(source, backend, threads=threads)
    if cache_dir is not None and cache_embeddings:
        encoder = CachedEncoder(encoder, Path(cache_dir) / CACHE_FILE)
    return with_lead(with_long_text(encoder, long_text), lead_weight)


# measured (bench/encode.py, all-MiniLM-L6-v2, per-channel int8): mean row cosine of int8 to
# torch 0.9954 on 5,000 Endava tickets (kNN-10 category accuracy 0.8015 vs torch 0.799), 0.9964
# on SeaMonkey, 0.9954 on the demo; per-tensor quantisation, which hurt neighbours, gave 0.961
INT8_MIN_COSINE = 0.99
AUTO_SAMPLE = 256  # run texts both backends embed to decide (a few seconds of torch)


def pick_backend(model: str | Path, texts: list[str], *, cache_dir: str | Path | None,
                 min_cosine: float = INT8_MIN_COSINE, sample: int = AUTO_SAMPLE, seed: int = 0,
                 reporter: Reporter = NULL) -> tuple[str, dict[str, float]]:
    """``auto`` encoder: ``onnx-int8`` when, on a sample of the run's own texts, its embeddings
    agree with torch's to a mean row cosine of at least ``min_cosine``; else ``torch``.

    Returns (backend, agreement). Both sample encodings go through the run's cache, so
    torch's are reused if torch is picked; the int8 export is made once per model.
    """
    rng = np.random.default_rng(seed)
    pick = sorted(rng.choice(len(texts), size=min(sample, len(texts)), replace=False).tolist())
    probe = [texts[i] for i in pick]
    ref = encoder_for(model, "torch", cache_dir=cache_dir, reporter=reporter).encode(probe)
    other = encoder_for(model, "onnx-int8", cache_dir=cache_dir, reporter=reporter).encode(probe)
    agree = embedding_agreement(ref, other, k=min(10, max(1, len(probe) - 1)))
    agree["min_cosine"] = min_cosine
    agree["sample"] = len(probe)
    backend = "onnx-int8" if agree["cosine_mean"] >= min_cosine else "torch"
    reporter.log(f"encoder auto: int8 vs torch mean cosine {agree['cosine_mean']:.4f} on "
                 f"{len(probe)} texts (needs {min_cosine}): {backend}")
    return backend, agree


__all__ = ["BACKENDS", "INT8_MIN_COSINE", "pick_backend", "Backend", "Encoder", "encoder_for", "load_encoder", "onnx_source"]
