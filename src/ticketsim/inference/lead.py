"""The lead view: a ticket's embedding with its opening sentence weighted in.

A ticket's first sentence is, with the default ``data.text_template``
(``{short_description}. {description}``), its short description: the line a person wrote
to say what the ticket is about. Mean pooling over a long report dilutes it among stack
traces, user-agent strings and steps to reproduce. With ``index.lead_weight`` w > 0 every
embedding the index, search and evaluate make is

    normalise(embed(text) + w * embed(lead(text)))

so the cosine of two tickets also counts how close their leads are (and the text to the
other's lead). The vector keeps the model's dimension, so the index, hybrid search,
thresholds and routing read it unchanged; the index records w, so a query is read the way
its tickets were. A text that is one sentence is its own lead: its vector does not change.

Measured (docs/search.md, "The lead view"): on SeaMonkey, MNRL's cross-fitted fold models
with w 0.5 rose from 0.639 to 0.684 MRR@10 (default protocol) and from 0.711 to 0.770
(benchmark protocol); on the demo, whose short descriptions name only the topic, the
fine-tuned model fell from 0.729 to 0.621. Hence ``auto`` by default: evaluate scores both
readings on the desk's own held-out links and the index reads the way that scored higher
(:mod:`ticketsim.evaluation.champion`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ticketsim.inference.encoder import Encoder, ReadingEncoder
from ticketsim.progress import NULL, Reporter

# a sentence ends at . ! ? followed by white space, or at a line break
_SENTENCE_END = re.compile(r"(?<=[.!?])\s|\n")


def lead(text: str) -> str:
    """The text up to its first sentence end (the text itself when it has none)."""
    body = text.strip()
    m = _SENTENCE_END.search(body)
    return body[: m.start()] if m else text


class LeadEncoder(ReadingEncoder):
    """An encoder whose vectors add the lead's embedding with ``weight`` (see module doc)."""

    def __init__(self, inner: Encoder, weight: float) -> None:
        if weight <= 0:
            raise ValueError(f"lead weight {weight}: must be > 0 (0 means no lead view)")
        super().__init__(inner, f"lead:{float(weight):g}")
        self.weight = float(weight)

    def encode(self, texts: Sequence[str], batch_size: int = 64,
               reporter: Reporter = NULL) -> np.ndarray:
        texts = list(texts)
        emb = np.asarray(self.inner.encode(texts, batch_size, reporter), dtype=np.float32)
        return add_lead(emb, texts, self.inner, self.weight, batch_size, reporter)


def add_lead(emb: np.ndarray, texts: Sequence[str], encoder: Encoder, weight: float,
             batch_size: int = 64, reporter: Reporter = NULL) -> np.ndarray:
    """``normalise(emb + weight * embed(lead(text)))`` row by row, given the texts' own
    embeddings ``emb`` (``encoder`` embeds the leads; a one-sentence text is its own lead and
    costs nothing). The one implementation: the lead view, and the routing reading of the
    index stage, evaluate and search (:mod:`ticketsim.index.routing`), which already hold the
    texts' own vectors and the encoder that made them."""
    emb = np.asarray(emb, dtype=np.float32)
    leads = [lead(t) for t in texts]
    own = [i for i, (t, s) in enumerate(zip(texts, leads, strict=True)) if s != t]
    lead_emb = emb.copy()
    if own:
        lead_emb[own] = encoder.encode([leads[i] for i in own], batch_size, reporter)
    out = emb + weight * lead_emb
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def with_lead(encoder: Encoder, weight: float) -> Encoder:
    """``encoder`` itself for weight 0, else wrapped."""
    return encoder if weight <= 0 else LeadEncoder(encoder, weight)
