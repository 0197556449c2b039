"""Offline model resolution: the bundled default, local folders, clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from ticketsim.errors import ModelNotFoundError
from ticketsim.models import model_fingerprint, resolve_model


def test_default_is_the_bundled_minilm_folder() -> None:
    path = Path(resolve_model("default"))
    assert (path / "modules.json").is_file()
    assert resolve_model(None) == str(path)
    assert isinstance(resolve_model("default"), str)  # a Path breaks SentenceTransformer


def test_local_folder_and_errors(tmp_path: Path, tiny_model_dir: Path) -> None:
    assert resolve_model(str(tiny_model_dir)) == str(tiny_model_dir.resolve())
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model(str(tmp_path / "nope"))
    f = tmp_path / "weights.bin"
    f.write_bytes(b"x")
    with pytest.raises(ModelNotFoundError, match="is a file"):
        resolve_model(str(f))
    with pytest.raises(ModelNotFoundError, match="cannot download it") as info:
        resolve_model("some-org/not-cached-model-xyz")
    assert "give the folder" in str(info.value)


def test_fingerprint_changes_with_the_weights(tmp_path: Path, tiny_model_dir: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    assert model_fingerprint(copy) == model_fingerprint(tiny_model_dir)
    weights = next(copy.rglob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert model_fingerprint(copy) != model_fingerprint(tiny_model_dir)
