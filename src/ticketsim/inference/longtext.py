"""Long tickets: what the encoder reads of a text longer than its ``max_seq_length``.

Bug reports run past 128 tokens (SeaMonkey's average 178), and the model silently keeps
only the first ``max_seq_length`` tokens. ``index.long_text`` picks another reading for
every embedding the index, search and evaluate make (the index records it, so queries are
read the way its tickets were):

- ``truncate``: the model's own cut (the head only);
- ``head_tail``: the first quarter and the last three quarters of the token budget, joined
  (Sun et al. 2019, "How to fine-tune BERT for text classification": head+tail beat both
  head-only and tail-only on long documents); the cut is made in the original string at
  the tokenizer's character offsets, so every backend reads it the same way;
- ``chunks``: consecutive windows of the budget (up to ``MAX_CHUNKS``), each embedded, the
  mean of the unit chunk vectors re-normalised; costs one forward pass per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ticketsim.inference.encoder import Encoder, ReadingEncoder
from ticketsim.progress import NULL, Reporter

LongText = Literal["truncate", "head_tail", "chunks"]
LONG_TEXT: tuple[str, ...] = ("truncate", "head_tail", "chunks")
HEAD_SHARE = 0.25  # head+tail: a quarter of the budget from the start, the rest from the end
MAX_CHUNKS = 8
SPECIALS = 2  # [CLS] ... [SEP]


def token_offsets(tokenizer: Any, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
    """Character (start, end) of each token of each text, without special tokens.

    Works with a transformers fast tokenizer (torch backend) and with the ``tokenizers``
    wrapper of an ONNX export (its ``.tokenizer``)."""
    inner = getattr(tokenizer, "tokenizer", None)
    if inner is not None and hasattr(inner, "encode_batch"):  # tokenizers.Tokenizer
        inner.no_truncation()
        return [list(e.offsets) for e in inner.encode_batch(list(texts), add_special_tokens=False)]
    enc = tokenizer(list(texts), add_special_tokens=False, truncation=False,
                    return_offsets_mapping=True, verbose=False)
    return [[tuple(o) for o in offs] for offs in enc["offset_mapping"]]


def head_tail(text: str, offsets: list[tuple[int, int]], budget: int) -> str:
    """``text`` cut to its first and last tokens within ``budget`` tokens (unchanged if it fits)."""
    if len(offsets) <= budget:
        return text
    head = max(1, int(budget * HEAD_SHARE))
    tail = budget - head - 1  # the joining space may become a token boundary, keep one spare
    return text[:offsets[head - 1][1]] + " " + text[offsets[len(offsets) - tail][0]:]


def chunks(text: str, offsets: list[tuple[int, int]], budget: int) -> list[str]:
    """``text`` as consecutive windows of ``budget`` tokens (at most ``MAX_CHUNKS``)."""
    if len(offsets) <= budget:
        return [text]
    out = []
    for i in range(0, len(offsets), budget):
        win = offsets[i:i + budget]
        out.append(text[win[0][0]:win[-1][1]])
        if len(out) == MAX_CHUNKS:
            break
    return out


class LongTextEncoder(ReadingEncoder):
    """An encoder that reads long texts by ``head_tail`` or ``chunks`` (see module doc)."""

    def __init__(self, inner: Encoder, mode: str, tokenizer: Any) -> None:
        if mode not in LONG_TEXT[1:]:
            raise ValueError(f"long_text mode {mode!r}: use one of {', '.join(LONG_TEXT)}")
        super().__init__(inner, mode)
        self.mode, self.tokenizer = mode, tokenizer
        self.budget = max(1, inner.max_seq_length - SPECIALS)

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               reporter: Reporter = NULL) -> np.ndarray:
        texts = list(texts)
        offsets = token_offsets(self.tokenizer, texts)
        if self.mode == "head_tail":
            cut = [head_tail(t, o, self.budget) for t, o in zip(texts, offsets, strict=True)]
            return self.inner.encode(cut, batch_size, reporter)
        parts: list[str] = []
        owner: list[int] = []
        for i, (t, o) in enumerate(zip(texts, offsets, strict=True)):
            c = chunks(t, o, self.budget)
            parts += c
            owner += [i] * len(c)
        emb = np.asarray(self.inner.encode(parts, batch_size, reporter), dtype=np.float32)
        out = np.zeros((len(texts), emb.shape[1] if emb.ndim == 2 else self.dim), dtype=np.float32)
        np.add.at(out, np.asarray(owner, dtype=np.int64), emb)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def with_long_text(encoder: Encoder, mode: str) -> Encoder:
    """``encoder`` itself for ``truncate``, else wrapped (the tokenizer of its backend)."""
    if mode == "truncate":
        return encoder
    base: Any = getattr(encoder, "encoder", encoder)  # the model under an embedding cache
    return LongTextEncoder(encoder, mode, base.tokenizer)
