"""torch backend: the sentence-transformers model itself, fed length-sorted batches.

Pick it when exactness matters more than speed, or when the model has not been exported
to ONNX. Needs only the model folder (or name). The model is loaded through
:func:`ticketsim.models.load_model`, cached per process, so stages never reload it.
Each batch runs the model's own module chain (transformer, pooling, normalize) under
``torch.inference_mode``: the same numbers as ``SentenceTransformer.encode``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ticketsim.errors import TicketsimError
from ticketsim.inference.batching import encode_in_batches
from ticketsim.models import load_model, model_fingerprint, resolve_model
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import combine_hashes


def state_fingerprint(model: Any) -> str:
    """sha256 over a loaded model's parameter names and bytes (about 0.1 s for MiniLM)."""
    import torch

    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


class TorchEncoder:
    """Encoder over a loaded SentenceTransformer (float32, CPU unless the model sits elsewhere)."""

    backend = "torch"

    def __init__(self, model: str | Path | Any | None, *, threads: int | None = None,
                 max_seq_length: int | None = None, device: str | None = "cpu") -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        if model is None or isinstance(model, str | Path):
            resolved = resolve_model(model)
            self.model = load_model(resolved, device=device)
            weights = model_fingerprint(resolved) if Path(resolved).is_dir() else resolved
        else:  # an already loaded SentenceTransformer: hash its weights (stable across processes)
            self.model = model
            weights = state_fingerprint(model)
        self.max_seq_length = int(max_seq_length or self.model.max_seq_length or 512)
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise TicketsimError(f"{model}: the model does not say its embedding dimension",
                                 hint="use a sentence-transformers model folder")
        self.dim = int(dim)
        self.threads = threads
        self.tokenizer = self.model.tokenizer
        self.input_names = [n for n in ("input_ids", "attention_mask", "token_type_ids")
                            if n in self.tokenizer.model_input_names or n != "token_type_ids"]
        self.fingerprint = combine_hashes("torch", weights, self.max_seq_length)

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               reporter: Reporter = NULL) -> np.ndarray:
        """Normalised float32 embeddings in input order."""
        import torch

        device = self.model.device

        def run(feeds: dict[str, np.ndarray]) -> np.ndarray:
            feats = {k: torch.from_numpy(v).to(device) for k, v in feeds.items()}
            emb = self.model(feats)["sentence_embedding"].float()
            return torch.nn.functional.normalize(emb, p=2, dim=1).cpu().numpy()

        with torch.inference_mode():
            return encode_in_batches(texts, self.dim, self.tokenizer, self.max_seq_length,
                                     self.input_names, batch_size, reporter,
                                     "embedding (torch)", run)
