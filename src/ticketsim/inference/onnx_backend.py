"""onnx / onnx-int8 backends: the exported graph run by onnxruntime on CPU.

Pick ``onnx`` for torch's numbers at lower latency, ``onnx-int8`` for the highest
throughput on CPUs with int8 dot-product instructions (AVX512-VNNI / AVX-VNNI), after
checking retrieval quality on your links. Needs the folder written by
``ticketsim export-onnx`` (graph, tokenizer, ``ticketsim_onnx.json``) and the
``onnx`` extra (onnxruntime). Sessions use all graph optimisations, intra-op threads =
physical cores, one inter-op thread, and are cached per process.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ticketsim.errors import TicketsimError
from ticketsim.inference.batching import encode_in_batches, physical_cores
from ticketsim.inference.onnx_meta import read_meta
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import combine_hashes


@functools.lru_cache(maxsize=8)
def _session(path: str, threads: int) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - pinned in the onnx extra
        raise TicketsimError("onnxruntime is not installed",
                             hint="pip install 'ticketsim[onnx]'") from exc
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


class FastTokenizer:
    """The export's ``tokenizer.json`` run by the ``tokenizers`` library, behind the small slice
    of the transformers tokenizer API that :func:`tokenize` uses. Loading it imports neither
    transformers nor torch, so a cold ``ticketsim search`` over an ONNX index stays fast."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        conf_path = folder / "tokenizer_config.json"
        conf = json.loads(conf_path.read_text()) if conf_path.is_file() else {}
        pad = conf.get("pad_token")
        pad = pad.get("content") if isinstance(pad, dict) else pad
        self.pad_token_id = self.tokenizer.token_to_id(pad) if pad else None
        self.side = conf.get("truncation_side", "right")
        self._max: int | None = None

    def __call__(self, texts: list[str], *, truncation: bool = True, max_length: int | None = None,
                 padding: bool = False, add_special_tokens: bool = True,
                 ) -> dict[str, list[list[int]]]:
        del padding  # never pads: batches are padded by pad_batch
        limit = max_length if truncation else None
        if limit != self._max:
            if limit:
                self.tokenizer.enable_truncation(limit, direction=self.side)
            else:
                self.tokenizer.no_truncation()
            self._max = limit
        encs = self.tokenizer.encode_batch(list(texts), add_special_tokens=add_special_tokens)
        return {"input_ids": [e.ids for e in encs], "token_type_ids": [e.type_ids for e in encs]}


def load_tokenizer(folder: Path) -> Any:
    """The fast ``tokenizers`` path when the export has a tokenizer.json, else transformers'."""
    if (folder / "tokenizer.json").is_file():
        return FastTokenizer(folder)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


class OnnxEncoder:
    """Encoder over an exported ONNX graph (fp32 or int8) with the export's own tokenizer."""

    def __init__(self, folder: str | Path, *, int8: bool = False, threads: int | None = None,
                 max_seq_length: int | None = None) -> None:
        self.folder = Path(folder).expanduser().resolve()
        self.meta = read_meta(self.folder)
        kind = "int8" if int8 else "fp32"
        name = self.meta["files"].get(kind)
        if name is None:
            raise TicketsimError(f"{self.folder}: the export has no {kind} graph",
                                 hint="export again with --int8")
        self.path = self.folder / name
        self.backend = "onnx-int8" if int8 else "onnx"
        self.threads = int(threads or physical_cores())
        self.session = _session(str(self.path), self.threads)
        self.tokenizer = load_tokenizer(self.folder)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.dim = int(self.meta["dim"])
        self.max_seq_length = int(max_seq_length or self.meta["max_seq_length"])
        digest = self.meta.get("file_hashes", {}).get(kind) or str(self.path)
        self.fingerprint = combine_hashes(self.backend, digest, self.max_seq_length)

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               reporter: Reporter = NULL) -> np.ndarray:
        """Normalised float32 embeddings in input order."""
        return encode_in_batches(texts, self.dim, self.tokenizer, self.max_seq_length,
                                 self.input_names, batch_size, reporter,
                                 f"embedding ({self.backend})",
                                 lambda feeds: self.session.run(None, feeds)[0])
