"""index.rescore: quantised (i8) candidates are re-ranked by exact float32 cosine from the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from index_helpers import index_config, make_run, tiny_tickets

from ticketsim.index.base import Filters
from ticketsim.index.search import Searcher
from ticketsim.index.stage import run_index


@pytest.mark.config_keys("index.rescore")
def test_rescore_reranks_i8_candidates_by_float32(tmp_path: Path, tiny_model_dir: Path) -> None:
    run = make_run(tmp_path / "run", tiny_tickets(per_topic=8))
    build = index_config(tiny_model_dir, precision="i8", exact_below=0)
    run_index(build, run)
    query = "printer jam toner. print jam again on printer, toner low please"
    results = {}
    for rescore in (1, 4):
        s = Searcher(run, index_config(tiny_model_dir, precision="i8", exact_below=0,
                                       rescore=rescore))
        assert s.index.rescore == rescore
        q = s.embed([query])
        hits = s.index.dense(q[0], 5)
        keys = [k for k, _ in hits]
        exact = s.index.store.vectors(keys, s.index.dim) @ q[0]  # float32 cosine, unit vectors
        raw_keys, raw_scores = s.index.backend.search(q, 5, s.index.store.filter_keys(Filters()))  # the i8 index's own answer
        results[rescore] = (hits, exact, (raw_keys.tolist(), raw_scores.tolist()))
        s.close()
    hits1, _, raw1 = results[1]
    hits4, exact4, _ = results[4]
    # without rescoring the hits are the i8 index's own keys and approximate scores (how far
    # they are from float32 depends on the machine's rounding, so that is not asserted) ...
    assert [k for k, _ in hits1] == raw1[0]
    np.testing.assert_allclose([sc for _, sc in hits1], raw1[1], rtol=0, atol=0)
    # ... with it they are exact float32 cosines, in descending order
    scores4 = np.array([sc for _, sc in hits4])
    np.testing.assert_allclose(scores4, exact4, atol=1e-5)
    assert list(scores4) == sorted(scores4, reverse=True)
    f32_run = make_run(tmp_path / "f32", tiny_tickets(per_topic=8))
    run_index(index_config(tiny_model_dir, exact_below=0), f32_run)
    f32 = Searcher(f32_run, index_config(tiny_model_dir, exact_below=0, rescore=4))
    assert f32.index.rescore == 1  # float32 indexes are already exact: nothing to re-rank
    f32.close()
    q_run = make_run(tmp_path / "qdrant", tiny_tickets(per_topic=2))
    q_cfg = index_config(tiny_model_dir, backend="qdrant", precision="i8", rescore=4)
    run_index(q_cfg, q_run)
    q = Searcher(q_run, q_cfg)
    assert q.index.rescore == 1  # Qdrant rescores its int8 quantisation itself
    q.close()
