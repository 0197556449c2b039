"""The run directory: one folder per stage, written atomically, stamped with its inputs.

A stage writes everything into a temporary sibling folder; only when it finishes is
the folder renamed into place, together with ``_stamp.json`` recording the hash of
its inputs and config section and ``summary.json`` holding what it did. A killed stage
therefore leaves the previous output intact, and a stage whose stamp matches is
skipped on rerun. :meth:`RunDir.produce` is the one way a stage does all of this.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Self

from ticketsim.errors import TicketsimError
from ticketsim.progress import NULL, Reporter

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no folder locks, cleanup as before
    fcntl = None  # type: ignore[assignment]

STAMP = "_stamp.json"
SUMMARY = "summary.json"  # every stage's summary, written by RunDir.produce


def file_hash(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes (first 16 hex digits)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()[:16]


def combine_hashes(*parts: Any) -> str:
    """One hash over several input hashes / config fingerprints."""
    payload = json.dumps([str(p) for p in parts])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path next to ``path`` for a library that writes files itself; rename on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def replace_dir(tmp: Path, final: Path) -> None:
    """Swap folder ``tmp`` into ``final``; a crash in between is repaired by :func:`recover_dir`."""
    old = final.with_name(f".{final.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _folder_lock(folder: Path, exclusive: bool) -> Iterator[bool]:
    """flock on a folder: shared while a stage writes into it, exclusive (non-blocking) to clean up.

    Yields False when the exclusive lock is refused: some stage is writing right now (in
    this process or another), so its temp folder is live, not stale. A killed writer's
    lock goes with its process. Without fcntl (Windows) or the folder, it always yields True.
    """
    if fcntl is None or not folder.is_dir():
        yield True
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB if exclusive else fcntl.LOCK_SH)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def recover_dir(final: Path) -> None:
    """Undo a swap interrupted between its two renames; drop stale temp folders.

    Only when no stage is writing in that folder: a reader (``read_stamp``, the service's
    reload poll) used to delete the temp folder of an index build in progress.
    """
    with _folder_lock(final.parent, exclusive=True) as idle:
        if not idle:
            return
        old = final.with_name(f".{final.name}.old")
        if not final.exists() and old.exists():
            os.replace(old, final)
        for stale in final.parent.glob(f".{final.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)


class RunDir:
    """A run directory holding one sub-folder per stage."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()
        if self.path.exists() and not self.path.is_dir():
            raise TicketsimError("the run directory is a file, not a folder", file=self.path,
                                 field="--run-dir", hint="give a folder (it is created if missing)")

    def stage_path(self, stage: str) -> Path:
        return self.path / stage

    def rel(self, path: str | Path) -> str:
        """``path`` as stored inside the run: relative when it lies in the run directory, so a
        copied or moved run uses its own files; other paths stay absolute."""
        p = Path(path)
        if not p.is_absolute():
            return str(p)
        try:
            return str(p.resolve().relative_to(self.path))
        except ValueError:
            return str(p)

    def resolve(self, stored: str | Path) -> str:
        """A path read from a run file (meta.json, thresholds.json): relative ones are relative
        to the run directory; names that are not paths (a hub model id) pass through."""
        p = Path(stored)
        if p.is_absolute():
            return str(p)
        inside = self.path / p
        return str(inside) if inside.exists() else str(stored)

    def read_stamp(self, stage: str) -> dict[str, Any] | None:
        recover_dir(self.stage_path(stage))
        p = self.stage_path(stage) / STAMP
        if not p.is_file():
            return None
        try:
            return json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def is_fresh(self, stage: str, inputs_hash: str) -> bool:
        """True when the stage finished before with exactly these inputs and config."""
        stamp = self.read_stamp(stage)
        return stamp is not None and stamp.get("inputs_hash") == inputs_hash

    def require(self, stage: str, what: str | None = None) -> Path:
        """Path of a finished stage's folder, or a clear error naming the command to run."""
        if self.read_stamp(stage) is None:
            raise TicketsimError(
                f"{self.path}: stage '{stage}' has not run in this run directory"
                + (f" (needed for {what})" if what else ""),
                hint=f"run `ticketsim {stage} --run-dir {self.path}` or `ticketsim run CONFIG`",
            )
        return self.stage_path(stage)

    def summary(self, stage: str) -> dict[str, Any]:
        """A finished stage's ``summary.json`` (empty when the stage has not run)."""
        path = self.stage_path(stage) / SUMMARY
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise TicketsimError(f"cannot read: {exc}", file=path,
                                 hint=f"rerun `ticketsim {stage} --run-dir {self.path} --force`") from None
        return data if isinstance(data, dict) else {}

    def produce(self, stage: str, inputs: str | Callable[[], str], build: Callable[[], Output], *,
                force: bool = False, reporter: Reporter = NULL, write: bool = True,
                around: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
                ) -> StageResult:
        """The one way a stage runs: skip, or build, write into a temp folder, rename.

        Skipped (its ``summary.json`` read back) when the stamp matches ``inputs`` and not
        ``force``. Else ``build()`` does the work and returns an :class:`Output`; its ``save``
        writes the stage's files into the temp folder, ``summary.json`` follows, and the folder
        is renamed into place stamped with ``inputs`` (a callable is asked again at the end:
        ingest's inputs include the links store it adds to). ``write=False`` (the non-main
        processes of a distributed training) builds without writing; ``around()``, called after
        ``build``, wraps the write (an external index swapped in once the folder is in place).
        """
        h = inputs() if callable(inputs) else inputs
        final = self.stage_path(stage)
        if not force and self.is_fresh(stage, h) and (final / SUMMARY).is_file():
            reporter.log(f"{stage}: inputs unchanged, skipped")
            return StageResult(stage, True, final, self.summary(stage))
        out = build()
        if not write:
            return StageResult(stage, False, final, out.summary)
        with around() if around else contextlib.nullcontext(), self.stage(
                stage, inputs() if callable(inputs) else h) as tmp:
            out.save(tmp)
            atomic_write_json(tmp / SUMMARY, out.summary)
        return StageResult(stage, False, final, out.summary)

    @contextlib.contextmanager
    def stage(self, stage: str, inputs_hash: str, meta: dict[str, Any] | None = None) -> Iterator[Path]:
        """Write a stage: yields a temp folder, renamed into place with its stamp on success."""
        self.path.mkdir(parents=True, exist_ok=True)
        final = self.stage_path(stage)
        recover_dir(final)
        with _folder_lock(self.path, exclusive=False):  # recover_dir leaves our temp folder alone
            tmp = Path(tempfile.mkdtemp(prefix=f".{stage}.tmp-", dir=self.path))
            try:
                yield tmp
                stamp = {"stage": stage, "inputs_hash": inputs_hash, "finished": time.time()}
                stamp.update(meta or {})
                atomic_write_json(tmp / STAMP, stamp)
                replace_dir(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise


@dataclasses.dataclass
class Output:
    """What a stage's work produced: its summary, and how to write its files into a folder.

    ``save`` runs inside the temp folder before ``summary.json`` is written, so it may add
    to the summary (what it wrote, how long it took)."""

    summary: dict[str, Any]
    save: Callable[[Path], None]


@dataclasses.dataclass(frozen=True)
class StageOutput:
    """A finished stage's folder and summary, read by the stages after it.

    Each stage subclasses it with its ``STAGE`` name and properties naming its files, so
    no other stage opens them by a literal path."""

    STAGE: ClassVar[str]
    folder: Path
    summary: dict[str, Any]

    @classmethod
    def read(cls, run: RunDir, what: str | None = None) -> Self:
        """The finished stage of ``run`` (a clear error naming the command when it has not run)."""
        return cls(run.require(cls.STAGE, what), run.summary(cls.STAGE))


@dataclasses.dataclass
class StageResult:
    """What a stage did: skipped (inputs unchanged) or ran, where its folder is, and its summary."""

    stage: str
    skipped: bool
    path: Path
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)
