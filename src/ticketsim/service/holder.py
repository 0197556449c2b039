"""The live :class:`Searcher` behind the service: hot swap, write lock, change journal.

Queries take a *lease* on the current searcher, so a swap never closes an index a
request is still reading: ``reload`` builds a whole new Searcher (model, index,
thresholds) while queries go on against the old one, then swaps the reference,
and the old one is closed when its last lease ends. Writes (add, delete) and swaps
share one lock, so no acknowledged change can land on an index that is being
retired. Every acknowledged change is also appended to ``<run dir>/service/
changes.jsonl`` first; when a *rebuilt* index is picked up (a new index stamp),
the journal is replayed onto it, so tickets added through the API survive
``ticketsim index`` reruns and service restarts. A change is validated before it is
journaled, and a line that still cannot be replayed is moved to ``rejected.jsonl``
instead of keeping the service from starting.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ticketsim.config import Config
from ticketsim.errors import TicketsimError
from ticketsim.index.search import Searcher
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import RunDir, atomic_write_json, atomic_write_text

FOLDER = "service"


class Journal:
    """Append-only JSON-lines log of acknowledged API changes, and the index stamp they reached."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "changes.jsonl"
        self.applied_path = folder / "applied.json"
        self.rejected_path = folder / "rejected.jsonl"

    def append(self, op: str, payload: Any) -> None:
        """Durably log one change before it is applied (a crash leaves it for the next replay)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"op": op, "data": payload}, default=str, ensure_ascii=False)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def lines(self) -> list[str]:
        if not self.path.is_file():
            return []
        return self.path.read_text(encoding="utf-8", errors="replace").splitlines()

    def applied_stamp(self) -> Any:
        try:
            return json.loads(self.applied_path.read_text())["stamp"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            return None

    def replay(self, searcher: Searcher) -> tuple[int, list[str]]:
        """Apply every logged change to ``searcher`` unless its index already has them.

        Returns (changes applied, one message per rejected line). A line that cannot be
        applied (garbled JSON, a ticket the rebuilt index's text template cannot render,
        anything else) never blocks the service: it is moved to ``rejected.jsonl`` with
        its error, and the journal keeps only the lines that applied.
        """
        if searcher.stamp is not None and searcher.stamp == self.applied_stamp():
            return 0, []
        lines = self.lines()
        kept: list[str] = []
        rejected: list[dict[str, Any]] = []
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                op, data = entry["op"], entry["data"]
                if op == "upsert":
                    searcher.upsert(data)
                elif op == "delete":
                    searcher.delete(data)
                else:
                    raise ValueError(f"unknown operation {op!r}")
            except Exception as exc:  # one bad change must not keep the service from starting
                reason = (str(exc) if isinstance(exc, TicketsimError)
                          else f"{type(exc).__name__}: {exc}")
                rejected.append({"line": lineno, "error": reason[:500], "entry": line})
                continue
            kept.append(line)
        if kept:
            searcher.flush()
        self.folder.mkdir(parents=True, exist_ok=True)
        if rejected:
            with open(self.rejected_path, "a", encoding="utf-8") as f:
                for r in rejected:
                    f.write(json.dumps({**r, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                  time.gmtime())}) + "\n")
            atomic_write_text(self.path, "".join(line + "\n" for line in kept))
        atomic_write_json(self.applied_path, {"stamp": searcher.stamp, "entries": len(kept)})
        messages = [f"{self.path.name} line {r['line']} not replayed, moved to "
                    f"{self.rejected_path.name}: {r['error']}" for r in rejected]
        return len(kept), messages


class SearcherHolder:
    """Owns the current Searcher; leases for readers, one lock for writers and swaps."""

    def __init__(self, run: RunDir, cfg: Config, *, reporter: Reporter = NULL,
                 factory: Callable[[RunDir, Config], Searcher] | None = None) -> None:
        self.run, self.cfg, self.reporter = run, cfg, reporter
        self.factory = factory or (lambda r, c: Searcher(r, c, reporter=reporter))
        self.write_lock = threading.Lock()
        self._refs = threading.Lock()
        self._users: dict[int, int] = {}
        self._retired: dict[int, Searcher] = {}
        self.journal = Journal(run.path / FOLDER)
        self.reloads = 0
        self.replayed = 0
        self.rejected = 0
        with self.write_lock:
            searcher = self.factory(run, cfg)
            self.replayed = self._replay(searcher)
            self.current = searcher
        self._stop = threading.Event()
        self.poll_seconds = 0.0
        self._poller: threading.Thread | None = None

    def _replay(self, searcher: Searcher) -> int:
        replayed, problems = self.journal.replay(searcher)
        self.rejected += len(problems)
        for message in problems:
            self.reporter.log(f"serve: warning: {message}")
        return replayed

    # ------------------------------------------------------------------ readers
    @contextlib.contextmanager
    def lease(self) -> Iterator[Searcher]:
        """The current searcher, kept open until the block ends even if a swap happens meanwhile."""
        with self._refs:
            s = self.current
            self._users[id(s)] = self._users.get(id(s), 0) + 1
        try:
            yield s
        finally:
            close = None
            with self._refs:
                self._users[id(s)] -= 1
                if self._users[id(s)] == 0:
                    del self._users[id(s)]
                    close = self._retired.pop(id(s), None)
            if close is not None:
                close.close()

    # ------------------------------------------------------------------ writers
    def upsert(self, records: list[dict[str, Any]]) -> int:
        """Validate, journal, apply: a rejected ticket never reaches the journal."""
        with self.write_lock:
            self.current.prepare(records)
            self.journal.append("upsert", records)
            return self.current.upsert(records)

    def delete(self, ids: list[str]) -> int:
        """Journal and apply a delete; ids the index does not hold are not journaled."""
        with self.write_lock:
            store = self.current.index.store
            if all(store.key_of(i) is None for i in ids):
                return 0
            self.journal.append("delete", ids)
            return self.current.delete(ids)

    # ------------------------------------------------------------------ swaps
    def reload(self, *, force: bool = False) -> tuple[bool, int]:
        """Hot-swap to the run's current index/model when it changed (or ``force``); (swapped, replayed)."""
        with self.write_lock:
            old = self.current
            if not force and not old.needs_reload():
                return False, 0
            old.flush()  # the new searcher then opens a snapshot with every acknowledged change
            new = self.factory(self.run, self.cfg)
            replayed = self._replay(new)
            close = None
            with self._refs:
                self.current = new
                if id(old) in self._users:
                    self._retired[id(old)] = old
                else:
                    close = old
            self.reloads += 1
            self.replayed += replayed
        if close is not None:
            close.close()
        self.reporter.log(f"serve: swapped to the index stamped {new.stamp} ({replayed} changes replayed)")
        return True, replayed

    def start_polling(self, seconds: float) -> None:
        """Look for a rebuilt index every ``seconds`` and hot-swap to it (0: off)."""
        self.poll_seconds = float(seconds)
        if seconds <= 0 or self._poller is not None:
            return
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll, name="ticketsim-reload", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.reload()
            except Exception as exc:  # a half-built or mismatched index: keep serving the old one
                self.reporter.log(f"serve: automatic reload failed, still serving the old index: {exc}")

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
            self._poller = None
        with self.write_lock:
            self.current.close()
