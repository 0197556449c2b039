"""The interactive labelling session: both tickets side by side, one key per answer.

Keys: ``d`` duplicate, ``r`` related, ``n`` not related, ``s`` skip, ``q`` quit (Ctrl-C
and end of input quit too). On a terminal one key press is enough (cbreak mode);
piped input is read a line at a time. ``plain`` prints plain text instead of rich
panels (screen readers, dumb terminals).

Crash-safe and resumable: the batch is written once to ``<run>/label/session.json``;
every answer is its own links-store transaction, committed before the next pair is
shown, and every answer or skip is appended (fsync) to ``session.log.jsonl``. After
quitting, a crash or SIGKILL, the next session resumes the same batch with the pairs
not yet answered or skipped; a pair answered or skipped is never asked again (skipped
pairs are also kept out of later batches).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from rich.columns import Columns
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from ticketsim.active.suggest import suggest
from ticketsim.data.store import LinksStore, ordered
from ticketsim.progress import NULL
from ticketsim.rundir import atomic_write_json

FOLDER = "label"
STATE = "session.json"
LOG = "session.log.jsonl"
KEYS: dict[str, tuple[str, tuple[int, str] | None]] = {
    "d": ("duplicate", (1, "duplicate")),
    "r": ("related", (1, "related")),
    "n": ("not related", (0, "related")),
    "s": ("skip", None),
}
PROMPT = "[d] duplicate  [r] related  [n] not related  [s] skip  [q] quit > "
TEXT_CHARS = 700


@dataclasses.dataclass
class SessionSummary:
    """What one sitting did."""

    asked: int = 0
    answered: int = 0
    skipped: int = 0
    conflicts: int = 0
    remaining: int = 0
    quit: bool = False
    counts: dict[str, int] = dataclasses.field(default_factory=dict)


def session_dir(run_path: Path) -> Path:
    return Path(run_path) / FOLDER


def read_log(folder: Path) -> list[dict[str, Any]]:
    """Every answer/skip line written so far (a torn last line from a crash is ignored)."""
    path = folder / LOG
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def skipped_pairs(folder: Path) -> set[tuple[str, str]]:
    """Pairs skipped in any session of this run (kept out of later batches)."""
    return {ordered(e["a"], e["b"]) for e in read_log(folder) if e.get("answer") == "skip"}


def load_batch(folder: Path) -> list[dict[str, Any]] | None:
    path = folder / STATE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))["pairs"]
    except (OSError, json.JSONDecodeError, KeyError):
        return None


def save_batch(folder: Path, rows: list[dict[str, Any]], strategy: str) -> None:
    atomic_write_json(folder / STATE, {"strategy": strategy, "created":
                                       dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                                       "pairs": rows})


def remaining(rows: list[dict[str, Any]], store: LinksStore, folder: Path) -> list[dict[str, Any]]:
    """Pairs of the batch neither in the store nor skipped in this run's sessions."""
    done = store.known_pairs() | skipped_pairs(folder)
    return [r for r in rows if ordered(str(r["a"]), str(r["b"])) not in done]


def _append_log(folder: Path, entry: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())


@contextlib.contextmanager
def _cbreak(stream: IO[str]) -> Iterator[bool]:
    """Single-key input on a terminal; yields whether it is active."""
    try:
        import termios
        import tty

        fd = stream.fileno()
        if not os.isatty(fd):
            raise OSError
        old = termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError, AttributeError):
        yield False
        return
    try:
        tty.setcbreak(fd)
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


@contextlib.contextmanager
def _ctrl_c_interrupts() -> Iterator[None]:
    """Ctrl-C quits the session even when SIGINT was inherited as ignored.

    A shell starts background jobs (``cmd &``, CI runners) with SIGINT ignored; a person at the
    session's terminal still expects Ctrl-C to quit and save, so the default handler is put back
    for the session's lifetime and the inherited state restored after.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.getsignal(signal.SIGINT)
    if old is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if old is signal.SIG_IGN:
            signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def _quit_on_ctrl_c(summary: SessionSummary) -> Iterator[None]:
    """Ctrl-C anywhere in the loop (not only at the prompt) quits like ``q``: every answer
    given so far is already in the links store."""
    try:
        yield
    except KeyboardInterrupt:
        summary.quit = True


def key_reader(stream: IO[str], single_key: bool) -> Callable[[], str]:
    """A function returning the next answer key ('' at end of input)."""
    def read() -> str:
        if single_key:
            ch = os.read(stream.fileno(), 1).decode("utf-8", "ignore")
            return ch.lower() if ch else ""
        line = stream.readline()
        if not line:
            return ""
        return line.strip().lower()[:1] or "?"
    return read


class LabelSession:
    """One sitting over a batch of pairs, writing each answer to the links store at once."""

    def __init__(self, store: LinksStore, rows: list[dict[str, Any]], folder: Path, *, who: str,
                 console: Any = None, plain: bool = False, stdin: IO[str] | None = None,
                 source: str = "label:session") -> None:
        self.store = store
        self.rows = rows
        self.folder = Path(folder)
        self.who = who
        self.console = console or Console()
        self.plain = plain
        self.stdin = stdin or sys.stdin
        self.source = source

    # ------------------------------------------------------------------ display
    def _show(self, row: dict[str, Any], i: int, total: int) -> None:
        head = (f"pair {i} of {total}  ·  similarity {float(row.get('score') or 0):.3f}"
                + (f"  ·  p(duplicate) {float(row['probability']):.2f}"
                   if row.get("probability") not in (None, "") else "")
                + (f"  ·  {row['reason']}" if row.get("reason") else ""))
        sides = []
        for end in ("a", "b"):
            text = str(row.get(f"text_{end}") or "")
            if len(text) > TEXT_CHARS:
                text = text[:TEXT_CHARS] + " …"
            sides.append((str(row[end]), str(row.get(f"short_description_{end}") or ""),
                          str(row.get(f"category_{end}") or ""), text))
        if self.plain:
            out = [head]
            for tag, (tid, short, cat, text) in zip("AB", sides, strict=True):
                out.append(f"{tag}: {tid}" + (f" [{cat}]" if cat else "") + f" {short}")
                out.append(f"   {text}")
            self.console.print("\n".join(out), markup=False, highlight=False)
            return

        panels = []
        for tid, short, cat, text in sides:
            body = Text()
            body.append(short + "\n", style="bold")
            if cat:
                body.append(cat + "\n", style="dim")
            body.append(text)
            panels.append(Panel(body, title=Text(tid), expand=True))
        self.console.rule(Text(head), style="blue")
        self.console.print(Columns(panels, equal=True, expand=True))

    # ------------------------------------------------------------------ loop
    def run(self) -> SessionSummary:
        """Ask about every remaining pair until done or quit; answers are saved as they come."""
        todo = remaining(self.rows, self.store, self.folder)
        summary = SessionSummary(remaining=len(todo))
        total = len(todo)
        with _cbreak(self.stdin) as single, _ctrl_c_interrupts(), _quit_on_ctrl_c(summary):
            read = key_reader(self.stdin, single)
            for i, row in enumerate(todo, start=1):
                self._show(row, i, total)
                key = self._ask(read)
                if key == "q":
                    summary.quit = True
                    break
                summary.asked += 1
                name, mapped = KEYS[key]
                a, b = ordered(str(row["a"]), str(row["b"]))
                if mapped is not None:
                    res = self.store.add([(a, b, mapped[0], None, mapped[1])], source=self.source,
                                         who=self.who)
                    summary.answered += 1
                    if res.conflicts:
                        summary.conflicts += 1
                        self.console.print(f"note: {a}/{b} had a different answer before; both "
                                           "are kept (ticketsim label conflicts)", markup=False)
                else:
                    summary.skipped += 1
                _append_log(self.folder, {"a": a, "b": b, "answer": name, "who": self.who,
                                          "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
                summary.counts[name] = summary.counts.get(name, 0) + 1
                summary.remaining -= 1
                self.console.print(f"saved: {name}", markup=False, highlight=False)
        return summary

    def _ask(self, read: Callable[[], str]) -> str:
        while True:
            try:  # the prompt too: a Ctrl-C right after it is drawn must not escape as a crash
                self.console.print(PROMPT, end="", markup=False, highlight=False)
                self.console.file.flush()
                key = read()
            except KeyboardInterrupt:
                key = "q"
            if key in ("", "\x03", "\x04"):
                key = "q"
            self.console.print(key if key.isprintable() else "", markup=False, highlight=False)
            if key == "q" or key in KEYS:
                return key
            self.console.print("use d, r, n, s or q", markup=False)


def open_session(cfg: Any, run: Any, *, n: int | None = None, strategy: str | None = None,
                 new: bool = False, reporter: Any = None) -> tuple[list[dict[str, Any]], Path, bool]:
    """The batch to work on: the unfinished one of this run (resumed), else a new suggestion.

    Returns (rows, folder, resumed).
    """
    reporter = reporter or NULL
    folder = session_dir(run.path)
    store = LinksStore(cfg.data.links_store)
    rows = None if new else load_batch(folder)
    if rows and remaining(rows, store, folder):
        return rows, folder, True
    s = suggest(cfg, run, n=n, strategy=strategy, exclude=skipped_pairs(folder), reporter=reporter)
    folder.mkdir(parents=True, exist_ok=True)
    save_batch(folder, s.rows, s.strategy)
    return s.rows, folder, False
