"""Turn positives and mined negatives into the columns the configured loss reads.

One place knows every format of :mod:`ticketsim.formats`: pairs, triplets (one row
per negative), n-tuples (pairs short of ``n`` negatives are dropped and counted),
labelled pairs (1 for positives, 0 for negatives) and scored pairs (the link score or
1.0 for positives, 0.0 for negatives). For the two pair formats every label-0 link the
desk answered becomes a row of its own, even when neither ticket has a positive: a
"not related" answer is a training signal by itself for a labelled-pairs loss. A sidecar table keeps the ticket ids of every
row, so tests and the report can check split safety without matching texts.
"""

from __future__ import annotations

import pandas as pd

from ticketsim.errors import TicketsimError
from ticketsim.formats import FORMAT_HELP, columns_for

NEEDS_NEGATIVES = {"triplet", "ntuple", "labelled", "scored"}


def check_can_produce(fmt: str, n: int, strategy: str, labelled_negatives: int,
                      use_labelled: bool) -> None:
    """Fail before any work when the configured loss needs negatives the data cannot give."""
    if fmt not in FORMAT_HELP:
        raise TicketsimError(f"unknown training format '{fmt}' from the configured loss",
                             field="train.loss")
    if fmt in NEEDS_NEGATIVES and strategy == "none" and not (use_labelled and labelled_negatives):
        raise TicketsimError(
            f"the configured loss needs {FORMAT_HELP[fmt]}, but negatives are disabled "
            f"(pairs.negatives.strategy: none) and the links hold "
            f"{labelled_negatives if use_labelled else 'no usable'} label-0 links",
            field="pairs.negatives.strategy",
            hint="set pairs.negatives.strategy to bm25, model or random, add label-0 links, "
            "or pick a loss that takes (anchor, positive) pairs",
        )


def to_format(pairs: pd.DataFrame, neg_ids: list[list[str]], texts: dict[str, str], fmt: str,
              n: int, answered_negatives: list[tuple[str, str]] | None = None,
              ) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(dataset in the format's columns, id sidecar, rows dropped for lack of negatives).

    ``answered_negatives``: label-0 links (a, b); in the labelled / scored formats each
    one not already a row (as some anchor's negative) is added as a 0 row.
    """
    rows: list[dict] = []
    meta: list[dict] = []
    dropped = 0
    recs = pairs.to_dict("records")
    for i, p in enumerate(recs):
        negs = neg_ids[i] if neg_ids else []
        base = {"anchor_id": p["anchor_id"], "positive_id": p["positive_id"], "source": p["source"]}
        if fmt == "pair":
            rows.append({"anchor": p["anchor"], "positive": p["positive"]})
            meta.append({**base, "negative_ids": []})
        elif fmt == "triplet":
            if not negs:
                dropped += 1
            for nid in negs:
                rows.append({"anchor": p["anchor"], "positive": p["positive"], "negative": texts[nid]})
                meta.append({**base, "negative_ids": [nid]})
        elif fmt == "ntuple":
            if len(negs) < n:
                dropped += 1
                continue
            row = {"anchor": p["anchor"], "positive": p["positive"]}
            row.update({f"negative_{j + 1}": texts[nid] for j, nid in enumerate(negs[:n])})
            rows.append(row)
            meta.append({**base, "negative_ids": list(negs[:n])})
        else:  # labelled / scored
            col = "label" if fmt == "labelled" else "score"
            pos_value = 1 if fmt == "labelled" else float(p.get("score", 1.0))
            rows.append({"sentence1": p["anchor"], "sentence2": p["positive"], col: pos_value})
            meta.append({**base, "negative_ids": []})
            for nid in negs:
                rows.append({"sentence1": p["anchor"], "sentence2": texts[nid],
                             col: 0 if fmt == "labelled" else 0.0})
                meta.append({**base, "positive_id": nid, "source": "negative",
                             "negative_ids": [nid]})
    if fmt in ("labelled", "scored") and answered_negatives:
        col = "label" if fmt == "labelled" else "score"
        used = {frozenset((m["anchor_id"], m["positive_id"])) for m in meta}
        for a, b in answered_negatives:
            if a == b or frozenset((a, b)) in used or a not in texts or b not in texts:
                continue
            used.add(frozenset((a, b)))
            rows.append({"sentence1": texts[a], "sentence2": texts[b],
                         col: 0 if fmt == "labelled" else 0.0})
            meta.append({"anchor_id": a, "positive_id": b, "source": "labelled-answer",
                         "negative_ids": [b]})
    cols = columns_for(fmt, n if fmt == "ntuple" else 1)
    data = pd.DataFrame(rows, columns=cols)
    if fmt == "labelled":
        data["label"] = data["label"].astype("int64")
    side = pd.DataFrame(meta, columns=["anchor_id", "positive_id", "source", "negative_ids"])
    return data, side, dropped
