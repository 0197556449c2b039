"""release_memory: freed heap goes back to the system, after every stage of a run."""

from __future__ import annotations

import sys

import pytest

from ticketsim import pipeline
from ticketsim.memory import release_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_release_trims_the_heap_on_linux() -> None:
    # the effect (3.6 GB -> 0.65 GB after a training) is measured in the module docstring;
    # an allocation pattern that glibc's free() alone never trims is not portable enough
    # for a test
    assert release_memory() is True


def test_run_stage_releases_memory_after_the_stage_even_when_it_fails(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(pipeline, "release_memory", lambda: calls.append("released"))

    def stage(cfg, run, **kw):  # noqa: ANN001, ANN003, ANN202
        calls.append("stage")
        if kw.get("fail"):
            raise RuntimeError("boom")
        return "done"

    monkeypatch.setattr(pipeline, "stage_function", lambda name: stage)
    assert pipeline.run_stage("train", None, None) == "done"  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        pipeline.run_stage("train", None, None, fail=True)  # type: ignore[arg-type]
    assert calls == ["stage", "released", "stage", "released"]
