"""Which model an index embeds with, and embedding ticket texts in batches.

The index uses the champion's model (``evaluate/champion.json``: the base model when the
fine-tuned one lost beyond the noise), else the fine-tuned model when the train stage
finished, else the base model (``index --model`` overrides the choice for one build), and stamps itself with that model's name and weights hash so a query
embedded by another model is refused instead of silently returning nonsense.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas costs a second to import; the query path never needs it
    import pandas as pd

from ticketsim.config import Config
from ticketsim.errors import TicketsimError
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import RunDir


def index_model(cfg: Config, run: RunDir, choice: str | None = None) -> str:
    """The champion's model when evaluate named one, else run_dir/train/model when training
    finished, else the resolved base model (a cold start with nothing trained).

    ``choice`` (``index --model``) overrides that: ``finetuned`` (run_dir/train/model),
    ``base`` (``train.base_model``) or a model folder or name.
    """
    from ticketsim.models import resolve_model

    if choice == "finetuned":
        trained = run.stage_path("train") / "model"
        if run.read_stamp("train") is None or not trained.is_dir():
            raise TicketsimError("there is no fine-tuned model to index: the train stage has not "
                                 "run", field="--model", hint="run `ticketsim train` first, or "
                                 "pass --model base or a model folder")
        return str(trained)
    if choice == "base":
        return resolve_model(cfg.train.base_model)
    if choice:
        return resolve_model(choice)
    champion = champion_model(run)
    if champion is not None:
        return champion
    if run.read_stamp("train") is not None and (run.stage_path("train") / "model").is_dir():
        return str(run.stage_path("train") / "model")
    return resolve_model(cfg.train.base_model)


def champion_model(run: RunDir) -> str | None:
    """Model folder of the champion named in evaluate/champion.json (None: no champion file,
    or a champion without a model such as BM25). Paths are relative to the run directory."""
    import json

    path = run.stage_path("evaluate") / "champion.json"
    if not path.is_file():
        return None
    try:
        model = json.loads(path.read_text()).get("model_path")
    except (OSError, ValueError, AttributeError):
        return None
    if not model:
        return None
    p = Path(model)
    return str(p if p.is_absolute() else (run.path / p).resolve())


def fingerprint_of(model_path: str) -> str:
    from ticketsim.models import model_fingerprint

    return model_fingerprint(model_path) if Path(model_path).is_dir() else model_path


def embed_texts(model_path: str, texts: Sequence[str], batch_size: int = 64, *,
                cache_dir: Path | None = None, backend: str = "torch",
                reporter: Reporter = NULL) -> np.ndarray:
    """Unit float32 embeddings through ticketsim.inference (``backend``, optional disk cache)."""
    from ticketsim.inference import encoder_for

    encoder = encoder_for(model_path, backend, cache_dir=cache_dir, reporter=reporter)
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
