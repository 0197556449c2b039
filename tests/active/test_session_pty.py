"""The terminal session driven through a real pseudo-terminal: answers, quit, resume, SIGKILL.

Every answer must be in the links store (with source, who and when) the moment the
next pair is shown; a pair answered or skipped is never asked again.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from active_helpers import indexed_run

from ticketsim.data.store import LinksStore

PAIR_RE = re.compile(r"^A: (\S+).*?^B: (\S+)", re.S | re.M)


def _controlling_tty(sigint: object = signal.SIG_DFL) -> None:
    """In the child: make the pty its controlling terminal, so Ctrl-C sends SIGINT as in a shell.

    SIGINT's disposition is set explicitly: a suite run as a background job inherits it as
    ignored, and the tests must not depend on how pytest was started.
    """
    import fcntl
    import termios

    signal.signal(signal.SIGINT, sigint)  # type: ignore[arg-type]
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Pty:
    """A child process on a pseudo-terminal (stdin, stdout and stderr), read with a timeout."""

    def __init__(self, args: list[str], env: dict[str, str],
                 sigint: object = signal.SIG_DFL) -> None:
        master, slave = os.openpty()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     close_fds=True, start_new_session=True,
                                     preexec_fn=lambda: _controlling_tty(sigint))
        os.close(slave)
        self.master = master
        self.out = ""
        self.pos = 0

    def _read(self, timeout: float) -> None:
        r, _, _ = select.select([self.master], [], [], timeout)
        if r:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the child closed the terminal
                data = b""
            if not data:
                raise EOFError
            self.out += data.decode("utf-8", "replace").replace("\r\n", "\n")

    def expect(self, text: str, timeout: float = 60) -> str:
        """Wait for ``text`` after the last match; returns what came before it."""
        end = time.monotonic() + timeout
        while text not in self.out[self.pos:]:
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {text!r}; got:\n{self.out[self.pos:]}")
            try:
                self._read(0.2)
            except EOFError:
                raise AssertionError(f"exited before {text!r}; got:\n{self.out[self.pos:]}") from None
        i = self.out.index(text, self.pos)
        before = self.out[self.pos:i]
        self.pos = i + len(text)
        return before

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self, timeout: float = 60) -> int:
        end = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < end:
            try:
                self._read(0.2)
            except EOFError:
                break
        rc = self.proc.wait(timeout=max(1.0, end - time.monotonic()))
        os.close(self.master)
        return rc


def session(run: Path, *extra: str, sigint: object = signal.SIG_DFL) -> Pty:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160", "TERM": "xterm"}
    return Pty([sys.executable, "-m", "ticketsim.cli", "label", "session", "--run-dir", str(run),
                *extra], env, sigint)


def shown_pair(before: str) -> tuple[str, str]:
    m = PAIR_RE.search(before)
    assert m, before
    a, b = m.group(1), m.group(2)
    return (a, b) if a < b else (b, a)


def test_session_answers_quit_resume_and_crash(tmp_path: Path, tiny_model_dir: Path) -> None:
    cfg, run = indexed_run(tmp_path, tiny_model_dir)
    store = LinksStore(cfg.data.links_store)
    before = len(store.history())

    # 1) a new batch: answer, a wrong key, skip, quit
    p = session(run.path, "--n", "4", "--plain")
    p.expect("new batch of 4 pairs")
    first = shown_pair(p.expect("[q] quit > "))
    p.send("d")
    p.expect("saved: duplicate")
    hist = store.history()
    assert len(hist) == before + 1, "the answer is in the store before the next pair is shown"
    row = hist.iloc[-1]
    assert (row.a, row.b, row.label, row.kind, row.source, row.who) == (
        *first, 1, "duplicate", "label:session", "tester")
    assert row.at
    skipped = shown_pair(p.expect("[q] quit > "))
    p.send("x")
    p.expect("use d, r, n, s or q")
    p.send("s")
    p.expect("saved: skip")
    p.expect("[q] quit > ")
    p.send("q")
    p.expect("1 answers saved, 1 skipped")
    p.expect("2 left (run again to resume)")
    assert p.finish() == 0
    assert len(store.history()) == before + 1, "a skip writes no label"

    # 2) resume: only the two pairs never answered nor skipped; answer one, then SIGKILL
    p = session(run.path, "--plain", "--who", "carol")
    p.expect("resuming")
    third = shown_pair(p.expect("[q] quit > "))
    assert third not in (first, skipped)
    p.send("n")
    p.expect("saved: not related")
    fourth = shown_pair(p.expect("[q] quit > "))
    os.kill(p.proc.pid, signal.SIGKILL)
    assert p.finish() == -signal.SIGKILL
    snap = store.snapshot().set_index(["a", "b"])
    assert snap.loc[third, "label"] == 0 and snap.loc[third, "who"] == "carol"

    # 3) resume after the crash: exactly the one pair left
    p = session(run.path, "--plain")
    p.expect("pair 1 of 1")
    assert shown_pair(p.expect("[q] quit > ")) == fourth
    p.send("r")
    p.expect("saved: related")
    p.expect("1 answers saved, 0 skipped")
    p.expect("0 left")
    assert p.finish() == 0
    answers = store.history().iloc[before:]
    assert [tuple(x) for x in answers[["a", "b", "label", "kind"]].itertuples(index=False)] == [
        (*first, 1, "duplicate"), (*third, 0, "related"), (*fourth, 1, "related")]
    log = [json.loads(x) for x in (run.path / "label" / "session.log.jsonl").read_text().splitlines()]
    assert [e["answer"] for e in log] == ["duplicate", "skip", "not related", "related"]

    # 4) batch done: a new one, never repeating an answered or skipped pair; rich panels
    p = session(run.path, "--n", "3")
    p.expect("new batch of 3 pairs")
    screen = p.expect("[q] quit > ")
    ids = set(re.findall(r"T\d{3}", screen))
    assert len(ids) >= 2
    batch = json.loads((run.path / "label" / "session.json").read_text())["pairs"]
    new_pairs = {tuple(sorted((r["a"], r["b"]))) for r in batch}
    assert not new_pairs & {first, skipped, third, fourth}
    assert {batch[0]["a"], batch[0]["b"]} <= ids, "both tickets are shown side by side"
    p.send("q")
    assert p.finish() == 0


@pytest.mark.parametrize(("keys", "sigint"), [
    ("\x04", signal.SIG_DFL), ("\x03", signal.SIG_DFL),
    # started as a background job would be: Ctrl-C must still quit and save
    ("\x03", signal.SIG_IGN)], ids=["ctrl-d", "ctrl-c", "ctrl-c-sigint-inherited-ignored"])
def test_end_of_input_or_ctrl_c_quits_cleanly(tmp_path: Path, tiny_model_dir: Path,
                                              keys: str, sigint: object) -> None:
    cfg, run = indexed_run(tmp_path, tiny_model_dir)
    p = session(run.path, "--n", "2", "--plain", sigint=sigint)
    p.expect("[q] quit > ")
    p.send(keys)
    p.expect("0 answers saved")
    assert p.finish() == 0
