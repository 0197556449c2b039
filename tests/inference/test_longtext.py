"""index.long_text: head+tail and chunked embeddings of tickets longer than max_seq_length."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from inference_helpers import CountingEncoder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "index"))

from index_helpers import index_config, make_run, tiny_tickets  # noqa: E402

from ticketsim.index.search import Searcher  # noqa: E402
from ticketsim.index.stage import run_index  # noqa: E402
from ticketsim.inference import load_encoder  # noqa: E402
from ticketsim.inference.longtext import (  # noqa: E402
    MAX_CHUNKS,
    LongTextEncoder,
    chunks,
    head_tail,
    token_offsets,
)

WORDS = [f"w{i}" for i in range(300)]  # one word-piece token or more each, all distinct


def _tok(model_dir: Path) -> object:
    return load_encoder(str(model_dir), "torch").tokenizer


def test_head_tail_keeps_the_start_and_the_end(tiny_model_dir: Path) -> None:
    tok = _tok(tiny_model_dir)
    text = "vpn " * 40 + "printer " * 60 + "battery " * 60
    (offs,) = token_offsets(tok, [text])
    assert len(offs) == 160
    cut = head_tail(text, offs, 60)  # a quarter (15 tokens) from the head, 44 from the tail
    assert cut == "vpn " * 14 + "vpn " + "battery " * 44
    assert len(token_offsets(tok, [cut])[0]) <= 60
    assert head_tail("vpn printer", token_offsets(tok, ["vpn printer"])[0], 60) == "vpn printer"


def test_chunks_cover_the_text_in_windows(tiny_model_dir: Path) -> None:
    tok = _tok(tiny_model_dir)
    text = " ".join(["vpn"] * 25 + ["printer"] * 25)
    (offs,) = token_offsets(tok, [text])
    parts = chunks(text, offs, 20)
    assert [len(token_offsets(tok, [p])[0]) for p in parts] == [20, 20, 10]
    assert " ".join(parts) == text
    assert len(chunks(" ".join(["vpn"] * 1000), token_offsets(tok, [" ".join(["vpn"] * 1000)])[0],
                      20)) == MAX_CHUNKS
    assert chunks("vpn", token_offsets(tok, ["vpn"])[0], 20) == ["vpn"]


def test_chunked_embedding_is_the_normalised_mean_of_its_chunks(tiny_model_dir: Path) -> None:
    tok = _tok(tiny_model_dir)
    inner = CountingEncoder()
    inner.max_seq_length = 22  # budget 20 tokens
    enc = LongTextEncoder(inner, "chunks", tok)
    long = " ".join(["vpn"] * 25 + ["printer"] * 25)
    out = enc.encode([long, "printer"])
    parts = chunks(long, token_offsets(tok, [long])[0], 20)
    assert inner.calls == [parts + ["printer"]]
    ref = CountingEncoder().encode(parts).sum(axis=0)
    np.testing.assert_allclose(out[0], ref / np.linalg.norm(ref), atol=1e-6)
    np.testing.assert_allclose(out[1], CountingEncoder().encode(["printer"])[0], atol=1e-6)
    assert enc.fingerprint != inner.fingerprint
    with pytest.raises(ValueError, match="long_text"):
        LongTextEncoder(inner, "truncate", tok)


@pytest.mark.config_keys("index.long_text")
def test_long_text_reaches_index_and_queries(tmp_path: Path, tiny_model_dir: Path) -> None:
    """A ticket longer than the tiny model's 64 tokens: stored and query vectors follow the mode,
    short tickets are embedded as before."""
    tickets = tiny_tickets()
    long = "vpn cannot connect " * 10 + " ".join(WORDS[:40]) + " printer out of toner" * 10
    tickets.loc[0, "text"] = long
    vecs = {}
    for mode in ("truncate", "head_tail", "chunks"):
        run = make_run(tmp_path / mode, tickets)
        cfg = index_config(tiny_model_dir, long_text=mode, lead_weight=0.0)  # long_text alone
        run_index(cfg, run)
        assert json.loads((run.path / "index" / "meta.json").read_text())["long_text"] == mode
        s = Searcher(run, cfg)
        try:
            assert (type(s.encoder).__name__ == "LongTextEncoder") == (mode != "truncate")
            assert s.encoder.backend == "torch"
            q = s.embed([long, tickets.loc[1, "text"]])
            hits = s.search(long, k=1)
            assert hits[0].id == tickets.loc[0, "id"]  # the query is read as its ticket was
            assert hits[0].score == pytest.approx(1.0, abs=1e-4)
            vecs[mode] = q
        finally:
            s.close()
    assert not np.allclose(vecs["truncate"][0], vecs["head_tail"][0], atol=1e-4)
    assert not np.allclose(vecs["truncate"][0], vecs["chunks"][0], atol=1e-4)
    assert not np.allclose(vecs["head_tail"][0], vecs["chunks"][0], atol=1e-4)
    for mode in ("head_tail", "chunks"):  # a short ticket fits: the same vector
        np.testing.assert_allclose(vecs[mode][1], vecs["truncate"][1], atol=1e-5)
