"""index.lead_weight: the opening sentence weighted into every ticket and query vector."""

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
from ticketsim.inference import encoder_for  # noqa: E402
from ticketsim.inference.lead import LeadEncoder, lead, with_lead  # noqa: E402


@pytest.mark.parametrize(("text", "want"), [
    ("VPN drops at home. It worked yesterday.", "VPN drops at home."),
    ("Printer offline? Tried a restart", "Printer offline?"),
    ("Outlook crashes\nevery time I open a calendar", "Outlook crashes"),
    ("one sentence without an end", "one sentence without an end"),
    ("v2.53.1 download page broken", "v2.53.1 download page broken"),  # no space after the dot
    ("\n Outlook crashes. Again", "Outlook crashes."),  # leading white space is no sentence
])
def test_lead_is_the_opening_sentence(text: str, want: str) -> None:
    assert lead(text) == want


def test_lead_vector_is_the_normalised_sum() -> None:
    inner = CountingEncoder()
    enc = LeadEncoder(inner, 0.5)
    texts = ["VPN drops at home. It worked yesterday.", "one sentence"]
    got = enc.encode(texts)
    e = CountingEncoder().encode(texts)
    lead_e = CountingEncoder().encode(["VPN drops at home."])
    want0 = e[0] + 0.5 * lead_e[0]
    np.testing.assert_allclose(got[0], want0 / np.linalg.norm(want0), atol=1e-6)
    np.testing.assert_allclose(got[1], e[1], atol=1e-6)  # its own lead: unchanged
    assert inner.calls == [texts, ["VPN drops at home."]]  # a one-sentence text is not re-embedded
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)
    assert enc.fingerprint != inner.fingerprint != LeadEncoder(inner, 1.0).fingerprint
    assert enc.dim == inner.dim and with_lead(inner, 0.0) is inner
    with pytest.raises(ValueError, match="lead weight"):
        LeadEncoder(inner, 0.0)


@pytest.mark.config_keys("index.lead_weight")
def test_lead_weight_reaches_index_and_queries(tmp_path: Path,
                                                        tiny_model_dir: Path) -> None:
    """The index stores lead-weighted vectors, records the weight, and a query is read the same
    way (a ticket's own text finds it at cosine 1); weight 0 is the plain model."""
    tickets = tiny_tickets()
    text = "vpn cannot connect from home. the laptop says the certificate expired"
    tickets.loc[0, "text"] = text
    plain = encoder_for(str(tiny_model_dir), "torch").encode([text])[0]
    weighted = LeadEncoder(encoder_for(str(tiny_model_dir), "torch"), 0.7).encode([text])[0]
    assert not np.allclose(plain, weighted, atol=1e-4)
    for w, want in ((0.0, plain), (0.7, weighted)):
        run = make_run(tmp_path / f"w{w}", tickets)
        cfg = index_config(tiny_model_dir, lead_weight=w)
        run_index(cfg, run)
        assert json.loads((run.path / "index" / "meta.json").read_text())["lead_weight"] == w
        s = Searcher(run, cfg)
        try:
            np.testing.assert_allclose(s.embed([text])[0], want, atol=1e-5)
            hits = s.search(text, k=1)
            assert hits[0].id == tickets.loc[0, "id"]
            assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        finally:
            s.close()


def test_wrappers_reach_the_tokenizer_under_an_embedding_cache(tmp_path: Path,
                                                                tiny_model_dir: Path) -> None:
    """evaluate's token-length report asks the served encoder for its tokenizer: through the
    lead view and the cache it is the model's."""
    enc = encoder_for(str(tiny_model_dir), "torch", cache_dir=tmp_path, lead_weight=0.5)
    assert isinstance(enc, LeadEncoder)
    model = enc.inner.encoder  # type: ignore[attr-defined]  # the model under the cache
    assert enc.tokenizer is model.tokenizer and enc.backend == "torch"
    with pytest.raises(AttributeError):
        enc.encoder  # noqa: B018  # not an embedding cache: callers must not unwrap past it


def test_lead_weight_auto_reads_as_the_champion_chose(tmp_path: Path,
                                                      tiny_model_dir: Path) -> None:
    """index.lead_weight auto: 0 before evaluate has chosen; the champion's weight once it has
    (the index rebuilds when that changes); 0 when `index --model` overrides the champion."""
    from ticketsim.index.model import index_reading

    run = make_run(tmp_path / "r", tiny_tickets())
    cfg = index_config(tiny_model_dir, lead_weight="auto")
    meta = run.path / "index" / "meta.json"
    run_index(cfg, run)
    assert json.loads(meta.read_text())["lead_weight"] == 0.0
    (run.path / "evaluate").mkdir()
    (run.path / "evaluate" / "champion.json").write_text(json.dumps(
        {"system": "finetuned+lead", "mode": "dense", "model": "finetuned",
         "model_path": str(tiny_model_dir), "lead_weight": 0.5}))
    assert index_reading(cfg, run).reading()["lead_weight"] == 0.5
    assert not run_index(cfg, run).skipped  # the reading changed: rebuilt
    assert json.loads(meta.read_text())["lead_weight"] == 0.5
    assert run_index(cfg, run).skipped
    assert index_reading(cfg, run, "base").reading()["lead_weight"] == 0.0
    assert index_reading(index_config(tiny_model_dir, lead_weight=0.0), run).reading() == {
        "long_text": "truncate", "lead_weight": 0.0}  # a number is used as it is
