"""Helpers of the inference tests: ticket-like texts and an encoder that counts its calls."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

VOCAB = ["vpn", "password", "reset", "outlook", "email", "printer", "laptop", "screen", "login", "account", "locked", "network", "wifi", "error", "install", "software", "sap", "payroll", "badge", "access", "share", "drive", "folder", "teams", "meeting", "slow", "crash", "update", "windows", "phone", "mfa", "token", "certificate", "expired", "cannot", "connect", "print", "toner", "battery", "keyboard", "monitor", "docking", "license", "excel", "the", "to", "is", "not", "my", "on", "after", "please", "help", "urgent", "again", "user"]


def ticket_texts(n: int, seed: int = 0, max_words: int = 40) -> list[str]:
    """Ticket-like texts of varied length (2 to ``max_words`` words)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(2, max_words)))
            for _ in range(n)]


class CountingEncoder:
    """A fake Encoder: deterministic vectors from the text, and a log of what it was asked."""

    def __init__(self, fingerprint: str = "fake-1", dim: int = 8) -> None:
        self.fingerprint = fingerprint
        self.dim = dim
        self.max_seq_length = 128
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str], batch_size: int = 64, reporter: object = None) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.stack([np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(self.dim)
                        for t in texts]).astype(np.float32) if texts else np.zeros((0, self.dim),
                                                                                   np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True) if len(out) else out

    @property
    def texts_encoded(self) -> int:
        return sum(len(c) for c in self.calls)
