"""Embedding ticket texts in batches, and the weights fingerprint an index is stamped with.

An index stamps itself with its model's name and weights hash so a query embedded by
another model is refused instead of silently returning nonsense (which model, and
``index --model``: :func:`ticketsim.index.model.index_model`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas costs a second to import; the query path never needs it
    import pandas as pd

from ticketsim.inference import encoder_for
from ticketsim.models import model_fingerprint
from ticketsim.progress import NULL, Reporter


def fingerprint_of(model_path: str) -> str:
    return model_fingerprint(model_path) if Path(model_path).is_dir() else model_path


def embed_texts(model_path: str, texts: Sequence[str], batch_size: int = 64, *,
                cache_dir: Path | None = None, backend: str = "torch",
                long_text: str = "truncate", lead_weight: float = 0.0,
                reporter: Reporter = NULL) -> np.ndarray:
    """Unit float32 embeddings through ticketsim.inference (``backend``, optional disk cache)."""
    encoder = encoder_for(model_path, backend, cache_dir=cache_dir, long_text=long_text,
                          lead_weight=lead_weight, reporter=reporter)
    return encoder.encode(list(texts), batch_size=batch_size, reporter=reporter)


def ticket_records(tickets: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of tickets.parquet as store records: ``created`` as ISO text, NaN/NaT as None."""
    import pandas as pd

    df = tickets.copy()
    if "created" in df.columns:
        created = pd.to_datetime(df["created"], errors="coerce")
        df["created"] = [None if pd.isna(c) else c.isoformat() for c in created]
    df = df.astype(object).where(pd.notna(df), None)
    return df.to_dict("records")
