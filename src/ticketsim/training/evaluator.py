"""A simple early-stopping evaluator on the validation split.

sentence-transformers' ``InformationRetrievalEvaluator`` over validation queries
(the held-out end of each validation link) against every non-test ticket. The
library ranks a query's own ticket like any other document; ticket-to-ticket search
must not, so the score function masks each query's own column. The full evaluation
(baselines, intervals, time-awareness) is the evaluate stage's job.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

NAME = "validation"
SCORE = "cosine"
METRIC = "mrr@10"  # the metric early stopping, the summary and the log name
KEY = f"{NAME}_{SCORE}_{METRIC}"  # its key in the evaluator's result
PRIMARY = f"eval_{KEY}"  # its key in the trainer's metrics (metric_for_best_model)


def build_evaluator(tickets: pd.DataFrame, split: pd.DataFrame, links: pd.DataFrame,
                    max_queries: int, batch_size: int, seed: int) -> Any | None:
    """The evaluator, or None when there are no validation links to evaluate on."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    from sentence_transformers.util import cos_sim

    if links is None or links.empty:
        return None
    test_ids = set(split.loc[split["split"] == "test", "id"].astype(str))
    corpus_df = tickets[~tickets["id"].astype(str).isin(test_ids)]
    corpus = dict(zip(corpus_df["id"].astype(str), corpus_df["text"].astype(str), strict=True))
    relevant: dict[str, set[str]] = {}
    for a, b in zip(links["a"].astype(str), links["b"].astype(str), strict=True):
        if a in corpus and b in corpus and a != b:
            relevant.setdefault(a, set()).add(b)
    if not relevant:
        return None
    qids = sorted(relevant)
    if len(qids) > max_queries:
        qids = sorted(pd.Series(qids).sample(max_queries, random_state=seed).tolist())
    queries = {q: corpus[q] for q in qids}
    relevant = {q: relevant[q] for q in qids}
    corpus_ids = list(corpus)
    col = {cid: j for j, cid in enumerate(corpus_ids)}
    self_cols = [col[q] for q in qids]

    def cosine_without_self(q_emb: Any, c_emb: Any) -> Any:
        scores = cos_sim(q_emb, c_emb)
        if scores.shape == (len(self_cols), len(corpus_ids)):
            import torch

            rows = torch.arange(len(self_cols), device=scores.device)
            scores[rows, torch.tensor(self_cols, device=scores.device)] = -2.0
        return scores

    evaluator = InformationRetrievalEvaluator(
        queries=queries, corpus=corpus, relevant_docs=relevant,
        corpus_chunk_size=max(len(corpus), 1), name=NAME, batch_size=batch_size,
        score_functions={SCORE: cosine_without_self}, main_score_function=None,
        accuracy_at_k=[1, 5, 10], precision_recall_at_k=[10], mrr_at_k=[10], ndcg_at_k=[10],
        map_at_k=[100], write_csv=False, show_progress_bar=False,
    )
    # the library's primary metric is ndcg@10 unless set; ours is mrr@10, and the summary,
    # the log line and early stopping must all mean the same number
    evaluator.primary_metric = f"{SCORE}_{METRIC}"
    return evaluator
