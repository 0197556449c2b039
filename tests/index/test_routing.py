"""Routing suggestions: the head, the index stage that trains it, search, API and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from index_helpers import index_config, make_run, tiny_tickets

from ticketsim.index.routing import (
    META,
    WEIGHTS,
    Router,
    TextFeatures,
    age_order,
    choose,
    features,
    fit_head,
)
from ticketsim.index.search import Searcher
from ticketsim.index.stage import run_index
from ticketsim.models import model_fingerprint

VPN = "vpn cannot connect from home. vpn keeps dropping, cannot connect"  # T00's text


def _blobs(classes: int, n: int = 60, d: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, d)) * 2
    y = np.arange(n) % classes
    return (centres[y] + rng.normal(size=(n, d))).astype(np.float32), np.array(
        [f"c{v}" for v in y], dtype=object)


@pytest.mark.parametrize("classes", [2, 4])
def test_head_reproduces_sklearn_probabilities(classes: int) -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = _blobs(classes)
    head = fit_head(x, y, c=3.0)
    assert head is not None
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    ref = LogisticRegression(C=3.0, max_iter=2000, random_state=0).fit(unit, y)
    assert list(head.classes) == list(ref.classes_)
    np.testing.assert_allclose(head.proba(x), ref.predict_proba(unit), atol=1e-4)


def test_head_skips_fields_without_two_labelled_classes() -> None:
    x, _ = _blobs(2)
    assert fit_head(x, np.array(["a"] * 60, dtype=object), 1.0) is None  # one class
    sparse = np.array(["a", "b"] * 4 + [None] * 52, dtype=object)
    assert fit_head(x, sparse, 1.0) is None  # 8 labelled rows < MIN_LABELLED
    y = np.array(["a", "b", "", "nan"] * 15, dtype=object)
    head = fit_head(x, y, 1.0)
    assert head is not None and sorted(head.classes) == ["a", "b"]  # blanks are not a class


def test_save_load_roundtrip_and_fingerprint(tmp_path: Path) -> None:
    x, y = _blobs(3)
    router = Router.fit(x, {"category": y, "empty": np.array([""] * 60, dtype=object)},
                        c=1.0, fingerprint="fp1")
    assert router is not None and list(router.heads) == ["category"]
    router.save(tmp_path)
    back = Router.load(tmp_path, "fp1")
    assert back is not None
    np.testing.assert_allclose(back.heads["category"].proba(x), router.heads["category"].proba(x))
    assert back.suggest(x[:1]) == router.suggest(x[:1])
    assert Router.load(tmp_path, "another model") is None
    assert Router.load(tmp_path / "nowhere") is None


def _worded(n: int = 80, seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Random embeddings (no signal) and texts whose words name the class."""
    rng = np.random.default_rng(seed)
    y = np.array(["printer", "vpn", "email", "laptop"] * (n // 4), dtype=object)
    texts = [f"ticket {i} {lab} problem {lab} again" for i, lab in enumerate(y)]
    return rng.normal(size=(n, 8)).astype(np.float32), texts, y


def test_text_features_equal_sklearn_tfidf() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    _, texts, _ = _worded()
    text = TextFeatures.fit(texts, max_terms=50000)
    assert text is not None
    ref = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit(texts)
    assert list(text.terms) == list(ref.get_feature_names_out())
    new = ["vpn problem on the printer", "nothing known here"]
    np.testing.assert_allclose(text.transform(new).toarray(), ref.transform(new).toarray(),
                               atol=1e-6)
    assert TextFeatures.fit(["a b", "c d"], 10) is None  # no term in two texts


def test_text_head_reads_the_words_and_survives_save_load(tmp_path: Path) -> None:
    """The embeddings carry no class signal here: only the TF-IDF columns can route."""
    x, texts, y = _worded()
    tr, te = np.arange(60), np.arange(60, 80)
    with_text = Router.fit(x[tr], {"category": y[tr]}, c=10.0, fingerprint="fp",
                           texts=[texts[i] for i in tr])
    emb_only = Router.fit(x[tr], {"category": y[tr]}, c=10.0, fingerprint="fp")
    assert with_text is not None and emb_only is not None
    assert with_text.info["features"] == "embedding+tfidf" and emb_only.info["terms"] == 0
    test_texts = [texts[i] for i in te]
    classes, p = with_text.predict_proba(x[te], test_texts)["category"]
    assert list(classes[p.argmax(1)]) == list(y[te])  # all 20 right
    classes, p = emb_only.predict_proba(x[te])["category"]
    assert np.mean(classes[p.argmax(1)] == y[te]) < 0.6  # chance is 0.25
    with pytest.raises(ValueError, match="text"):
        with_text.predict_proba(x[te])
    with_text.save(tmp_path)
    back = Router.load(tmp_path, "fp")
    assert back is not None and back.text is not None
    np.testing.assert_allclose(back.predict_proba(x[te], test_texts)["category"][1],
                               with_text.predict_proba(x[te], test_texts)["category"][1])
    assert back.suggest(x[60:61], texts[60]) == {
        "category": {"value": str(y[60]), "probability": with_text.suggest(
            x[60:61], texts[60])["category"]["probability"]}}
    with np.load(tmp_path / WEIGHTS, allow_pickle=False) as z:  # plain arrays: no pickle
        assert "terms" in z.files


def test_text_head_reproduces_sklearn_on_the_concatenation() -> None:
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    x, texts, y = _worded()
    text = TextFeatures.fit(texts, 50000)
    head = fit_head(features(x, texts, text), y, c=3.0)
    assert head is not None
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    tf = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2).fit_transform(texts)
    z = hstack([csr_matrix(unit), tf], format="csr")
    ref = LogisticRegression(C=3.0, max_iter=2000, random_state=0).fit(z, y)
    np.testing.assert_allclose(head.proba(features(x, texts, text)), ref.predict_proba(z),
                               atol=1e-4)


def test_auto_picks_what_wins_on_the_newest_tickets() -> None:
    """XOR-shaped classes in the embedding (a linear head cannot, a vote can) and word-named
    classes with no signal in the embedding (only the TF-IDF head can)."""
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=(n, 4)).astype(np.float32)
    xor = np.where(x[:, 0] * x[:, 1] > 0, "a", "b").astype(object)
    noise = [f"ticket {i} please help" for i in range(n)]
    order = np.arange(n)  # row order is age order here
    got = choose(x, noise, xor, order, c=10.0, max_terms=1000)
    assert got["method"] == "knn" and got["validation"] == 40
    acc = got["validation_accuracy"]
    assert acc["knn"] > 0.8 and acc["head"] < 0.7
    x2, texts, y = _worded(n)
    got = choose(x2, texts, y, order, c=10.0, max_terms=1000)
    assert got["method"] == "head"
    assert got["validation_accuracy"]["head"] == 1.0 > got["validation_accuracy"]["knn"]
    assert choose(x[:20], noise[:20], xor[:20], np.arange(20), 10.0, 1000)["method"] == "head"


def test_an_accuracy_tie_goes_to_the_lower_brier_score_then_the_simpler() -> None:
    from ticketsim.index.routing import pick

    acc = {"knn": 0.8654, "head": 0.8539, "blend": 0.8654}
    assert pick(acc, {"knn": 0.21, "head": 0.20, "blend": 0.19}) == "blend"
    assert pick(acc, {"knn": 0.19, "head": 0.20, "blend": 0.21}) == "knn"
    assert pick(acc, {"knn": 0.2, "head": 0.2, "blend": 0.2}) == "knn"  # then the simpler
    assert pick({"knn": 0.7, "head": 0.9, "blend": 0.8}, {"knn": 0.0, "head": 0.9, "blend": 0.0}
                ) == "head"  # accuracy first
    x, texts, y = _worded(200)
    got = choose(x, texts, y, np.arange(200), c=10.0, max_terms=1000)
    b = got["validation_brier"]  # sum over classes of (p - truth)^2: 0 (certain, right) .. 2
    assert set(b) == {"knn", "head", "blend"} and all(0.0 <= v <= 2.0 for v in b.values())
    assert b["head"] < b["knn"]  # the head knows these classes, the vote does not


def _half_and_half(n: int = 240) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Four classes (group x word): the group is XOR-shaped in the embedding (a vote finds it,
    a linear head cannot) and the word is only in the text (the TF-IDF head finds it)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    group = np.where(x[:, 0] * x[:, 1] > 0, "g", "h")
    word = np.array(["printer", "vpn"] * (n // 2))[rng.permutation(n)]
    texts = [f"ticket {w} problem" for w in word]
    return x, texts, np.array([f"{g}-{w}" for g, w in zip(group, word, strict=True)], dtype=object)


def test_auto_picks_the_blend_when_vote_and_head_know_different_halves() -> None:
    x, texts, y = _half_and_half()
    got = choose(x, texts, y, np.arange(len(y)), c=10.0, max_terms=1000)
    acc = got["validation_accuracy"]
    assert got["method"] == "blend"
    assert acc["knn"] < 0.65 and acc["head"] < 0.65 and acc["blend"] > 0.8


def test_blended_averages_the_head_and_the_vote() -> None:
    from ticketsim.index.routing import BLEND_WEIGHT, blended

    classes = np.array(["a", "b", "c"])
    head_p = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]], dtype=np.float32)
    shares = [{"b": 0.75, "a": 0.25}, {}]
    got = blended(head_p, classes, shares)
    assert BLEND_WEIGHT == 0.5
    np.testing.assert_allclose(got[0], [0.425, 0.525, 0.05], atol=1e-6)  # the vote flips it
    np.testing.assert_allclose(got[1], head_p[1])  # no labelled neighbour: the head's
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-6)
    # a voted value the head never saw adds nothing (it cannot be suggested)
    np.testing.assert_allclose(blended(head_p[:1], classes, [{"zzz": 1.0}])[0],
                               0.5 * head_p[0], atol=1e-6)


def test_blend_router_serves_what_evaluate_measures(tmp_path: Path) -> None:
    """The served suggestion (head + the vote of the neighbours the index returns) equals
    evaluate's (:func:`router_predictions`, the vote of the nearest training tickets), and
    survives save / load."""
    from ticketsim.config import IndexConfig
    from ticketsim.evaluation.routing import router_predictions
    from ticketsim.index.routing import fit_routing

    x, texts, y = _half_and_half()
    train, test = np.arange(200), np.arange(200, 240)
    icfg = IndexConfig(routing_features="blend")
    preds = router_predictions(x, texts, {"category": y}, train, test, icfg, np.arange(240))
    assert np.mean(preds["category"] == y[test]) > 0.8
    router = fit_routing(x[train], texts[:200], {"category": y[train]}, np.arange(200), icfg, "fp")
    assert router is not None and router.blend == {"category": 10}
    assert router.neighbours_needed == 10
    router.save(tmp_path)
    back = Router.load(tmp_path, "fp")
    assert back is not None and back.blend == {"category": 10}
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    for r in test[:10]:  # the index's neighbours: the 10 nearest training tickets, best first
        s = unit[train] @ unit[r]
        near = [({"category": y[j]}, float(s[j])) for j in np.argsort(-s, kind="stable")[:10]]
        assert back.suggest(x[r:r + 1], texts[r], near)["category"]["value"] == preds[
            "category"][r - 200]


def test_age_order_is_oldest_first_with_undated_first() -> None:
    import pandas as pd

    t = pd.DataFrame({"created": ["2024-03-01", None, "2024-01-01", "2024-02-01"]})
    assert age_order(t).tolist() == [1, 2, 3, 0]
    assert sorted(age_order(pd.DataFrame({"x": range(5)})).tolist()) == list(range(5))


def test_knn_fields_vote_with_the_nearest_indexed_tickets(tmp_path: Path,
                                                          tiny_model_dir: Path) -> None:
    run = make_run(tmp_path / "run")
    cfg = index_config(tiny_model_dir, routing_features="knn")
    run_index(cfg, run)
    router = Router.load(run.stage_path("index"))
    assert router is not None and router.heads == {} and router.text is None
    assert router.knn == {"category": 10, "subcategory": 10}
    s = Searcher(run, cfg)
    try:
        got = s.route(VPN)
        assert got is not None
        # the similarity-weighted vote of the 10 nearest indexed tickets (the tiny model is
        # random, so which value wins is whatever its neighbours say)
        hits = s.search(VPN, k=10, mode="dense")
        votes: dict[str, float] = {}
        for h in hits:
            votes[h.category] = votes.get(h.category, 0.0) + max(h.score, 0) + 1e-6
        best = max(votes, key=lambda v: votes[v])
        assert got["category"]["value"] == best
        assert got["category"]["probability"] == pytest.approx(
            votes[best] / sum(votes.values()), abs=1e-3)
        assert s.stats()["routing"] == ["category", "subcategory"]
    finally:
        s.close()


@pytest.mark.config_keys("index.routing_features", "index.routing_max_terms")
def test_routing_features_and_max_terms_reach_the_router(tmp_path: Path,
                                                         tiny_model_dir: Path) -> None:
    found = {}
    for feats, terms in (("embedding+tfidf", 7), ("embedding", 7), ("auto", 7), ("blend", 7)):
        run = make_run(tmp_path / f"run-{feats}")
        cfg = index_config(tiny_model_dir, routing_features=feats, routing_max_terms=terms)
        run_index(cfg, run)
        folder = run.stage_path("index")
        found[feats] = json.loads((folder / META).read_text())
        router = Router.load(folder)
        assert router is not None
        assert (router.text is not None) == (feats != "embedding")
        if router.text is not None:
            assert len(router.text.terms) == 7
            dim = json.loads((folder / "meta.json").read_text())["dim"]
            assert router.heads["category"].coef.shape[1] == dim + 7
            s = Searcher(run, cfg)
            try:
                assert s.route(VPN)["category"]["value"] == "network"  # type: ignore[index]
            finally:
                s.close()
    assert found["embedding+tfidf"]["features"] == "embedding+tfidf"
    assert found["embedding+tfidf"]["terms"] == 7
    assert found["embedding"]["features"] == "embedding" and found["embedding"]["terms"] == 0
    # auto with 24 labelled tickets: too few to compare on the newest fifth, so the head
    assert found["auto"]["mode"] == "auto" and found["auto"]["terms"] == 7
    assert found["auto"]["selection"]["category"]["method"] == "head"
    assert found["blend"]["blend"] == {"category": 10, "subcategory": 10}
    assert found["embedding+tfidf"]["blend"] == {}


@pytest.mark.config_keys("index.routing", "index.routing_fields")
def test_index_trains_routing_and_search_suggests(tmp_path: Path, tiny_model_dir: Path) -> None:
    tickets = tiny_tickets()
    tickets["assignment_group"] = tickets["category"].map(lambda c: f"team-{c}")
    run = make_run(tmp_path / "run", tickets)
    cfg = index_config(tiny_model_dir)
    res = run_index(cfg, run)
    folder = run.stage_path("index")
    meta = json.loads((folder / META).read_text())
    assert meta["model_fingerprint"] == model_fingerprint(tiny_model_dir)
    assert meta["fields"] == ["category", "subcategory", "assignment_group"]
    assert res.summary["routing"]["category"] == {"classes": 5, "labelled": 24}
    s = Searcher(run, cfg)
    try:
        got = s.route(VPN)
        assert got is not None
        assert {f: v["value"] for f, v in got.items()} == {
            "category": "network", "subcategory": "vpn", "assignment_group": "team-network"}
        assert all(0 < v["probability"] <= 1 for v in got.values())
        assert s.stats()["routing"] == ["category", "subcategory", "assignment_group"]
    finally:
        s.close()

    cfg2 = index_config(tiny_model_dir, routing_fields=["subcategory", "no_such_column"])
    run2 = make_run(tmp_path / "run2", tickets)
    run_index(cfg2, run2)
    s = Searcher(run2, cfg2)
    try:
        got = s.route(VPN)
        assert got is not None and list(got) == ["subcategory"]
    finally:
        s.close()

    cfg3 = index_config(tiny_model_dir, routing=False)
    run3 = make_run(tmp_path / "run3", tickets)
    assert "routing" not in run_index(cfg3, run3).summary
    assert not (run3.stage_path("index") / WEIGHTS).exists()
    s = Searcher(run3, cfg3)
    try:
        assert s.route(VPN) is None and s.stats()["routing"] == []
    finally:
        s.close()


@pytest.mark.config_keys("index.routing_c")
def test_routing_c_reaches_the_head(tmp_path: Path, tiny_model_dir: Path) -> None:
    """Stronger regularisation (small C) makes the head less sure of the same ticket."""
    probs = {}
    for c in (0.01, 100.0):
        run = make_run(tmp_path / f"run{c}")
        cfg = index_config(tiny_model_dir, routing_c=c)
        run_index(cfg, run)
        assert json.loads((run.stage_path("index") / META).read_text())["c"] == c
        s = Searcher(run, cfg)
        try:
            probs[c] = s.route(VPN)["category"]["probability"]  # type: ignore[index]
        finally:
            s.close()
    assert probs[0.01] < 0.5 < probs[100.0]


def test_api_and_cli_show_routing(tmp_path: Path, tiny_model_dir: Path) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from ticketsim.cli import app as cli_app
    from ticketsim.service.app import create_app

    run = make_run(tmp_path / "run")
    cfg = index_config(tiny_model_dir)
    run_index(cfg, run)
    cfg.data.links_store = tmp_path / "links.sqlite"
    cfg.serve.reload_poll_seconds = 0
    app = create_app(run, cfg)
    try:
        client = TestClient(app)
        out = client.post("/search", json={"text": VPN, "k": 3}).json()
        assert out["routing"]["category"]["value"] == "network"
        assert out["routing"]["subcategory"]["value"] == "vpn"
        assert client.post("/search", json={"ticket_id": "T00", "k": 3}).json()["routing"] is None
    finally:
        app.state.holder.close()
    res = CliRunner().invoke(cli_app, ["search", "--run-dir", str(run.path), "-k", "2",
                                       "--set", f"train.base_model={tiny_model_dir}", VPN])
    assert res.exit_code == 0, res.output
    assert "suggested routing: category network (" in res.output
    assert "subcategory vpn (" in res.output


def test_an_answer_embeds_its_query_once_for_search_and_routing(tmp_path: Path,
                                                                  tiny_model_dir: Path) -> None:
    run = make_run(tmp_path / "run")
    cfg = index_config(tiny_model_dir)
    run_index(cfg, run)
    s = Searcher(run, cfg)
    try:
        calls: list[list[str]] = []
        real = s.encoder.encode

        def counting(texts, *a, **k):  # type: ignore[no-untyped-def]
            calls.append(list(texts))
            return real(texts, *a, **k)

        s.encoder.encode = counting  # type: ignore[method-assign]
        got = s.answer(VPN, k=3)
        assert calls == [[VPN]]  # one forward pass serves the hits and the suggestion
        fresh = Searcher(run, cfg)
        try:
            assert got.routing == fresh.route(VPN)  # as from its own embedding
        finally:
            fresh.close()
        s.answer("printer jam", k=3)
        assert calls == [[VPN], ["printer jam"]]  # another text is embedded
    finally:
        s.close()


def _lead_knows(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Index vectors that know nothing of the class, and a lead reading that does."""
    rng = np.random.default_rng(seed)
    y = np.array(["a", "b", "c", "d"] * (n // 4), dtype=object)[rng.permutation(n)]
    x = rng.normal(size=(n, 8)).astype(np.float32)
    centre = {c: rng.normal(size=8) * 3 for c in "abcd"}
    lead = np.stack([centre[c] + rng.normal(size=8) for c in y]).astype(np.float32)
    texts = [f"ticket {i}" for i in range(n)]
    return x, lead, texts, y


def test_auto_routes_with_the_lead_when_it_wins_on_the_newest_tickets() -> None:
    from ticketsim.config import IndexConfig
    from ticketsim.index.routing import fit_routing

    x, lead, texts, y = _lead_knows()
    order = np.arange(len(y))
    router = fit_routing(x, texts, {"category": y}, order, IndexConfig(), "fp", lead, 0.5)
    assert router is not None and router.lead_weight == 0.5
    acc = router.info["reading"]["validation_accuracy"]
    brier = router.info["reading"]["validation_brier"]
    assert acc["lead"] > 0.9 > 0.5 > acc["index"]
    assert brier["lead"] < 0.2 < 0.5 < brier["index"]  # what decides: the lower Brier score
    # the other way round (the index reading knows the class), auto keeps it
    router = fit_routing(lead, texts, {"category": y}, order, IndexConfig(), "fp", x, 0.5)
    assert router is not None and router.lead_weight == 0.0
    # a number reads with the lead whatever the validation says; no lead reading: none
    router = fit_routing(lead, texts, {"category": y}, order,
                         IndexConfig(routing_lead_weight=0.5), "fp", x, 0.5)
    assert router is not None and router.lead_weight == 0.5
    router = fit_routing(x, texts, {"category": y}, order, IndexConfig(), "fp")
    assert router is not None and router.lead_weight == 0.0


def test_the_lead_vote_rescores_the_index_candidates() -> None:
    """Evaluate's vote with the lead reading: the CANDIDATES nearest by the index's vectors,
    the k best of them by the lead reading (what Searcher.route serves)."""
    from ticketsim.index.routing import CANDIDATES, knn_shares, rescore, vote_shares

    x, lead, _, y = _lead_knows(n=160)
    train, pred = np.arange(120), np.arange(120, 160)
    got = knn_shares(x, y, train, pred, 5, lead)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    lunit = lead / np.linalg.norm(lead, axis=1, keepdims=True)
    for i, r in enumerate(pred):
        cand = np.argsort(-(unit[train] @ unit[r]), kind="stable")[:CANDIDATES]
        s = lunit[cand] @ lunit[r]
        best = cand[np.argsort(-s, kind="stable")[:5]]
        want = vote_shares([y[j] for j in best], [float(lunit[j] @ lunit[r]) for j in best])
        assert got[i] == pytest.approx(want)
        assert [k for k, _ in rescore(lunit[r], list(cand), lunit[cand], 5)] == best.tolist()
    # the lead reading knows the class: the re-scored vote beats the index's own
    plain = knn_shares(x, y, train, pred, 5)
    hit = [max(sh, key=lambda v: sh[v]) == y[r] for sh, r in zip(got, pred, strict=True)]
    miss = [max(sh, key=lambda v: sh[v]) == y[r] for sh, r in zip(plain, pred, strict=True)]
    assert np.mean(hit) > np.mean(miss) + 0.2


def test_router_rows_are_stored_until_a_ticket_changes() -> None:
    stored = np.arange(12, dtype=np.float32).reshape(3, 4)
    router = Router({}, "fp", knn={"category": 10}, lead_weight=0.5, vectors=stored, seq=5)
    asked: list[list[int]] = []

    def fresh(keys: list[int]) -> np.ndarray:
        asked.append(keys)
        return np.full((len(keys), 4), -1.0, dtype=np.float32)

    # key 0 as built; key 1 changed after the build (seq 6); key 3 added since
    got = router.rows([0, 1, 3, 2], {0: 5, 1: 6, 3: 7, 2: 1}, fresh)
    assert asked == [[1, 3]]
    np.testing.assert_array_equal(got[[0, 3]], stored[[0, 2]])
    assert (got[[1, 2]] == -1).all()
    assert router.candidates == 50


@pytest.mark.config_keys("index.routing_lead_weight")
def test_routing_lead_weight_reaches_the_router_and_search(tmp_path: Path,
                                                           tiny_model_dir: Path) -> None:
    from ticketsim.index.routing import VECTORS, vote_shares, winner
    from ticketsim.inference import encoder_for
    from ticketsim.inference.lead import add_lead, lead

    tickets = tiny_tickets()
    found = {}
    for w in (0, 0.5, "auto"):
        run = make_run(tmp_path / f"run-{w}", tickets)
        cfg = index_config(tiny_model_dir, routing_features="knn", routing_lead_weight=w)
        res = run_index(cfg, run)
        folder = run.stage_path("index")
        found[w] = (json.loads((folder / META).read_text()), (folder / VECTORS).is_file(),
                    res.summary)
    # heads alone read the query's lead but vote with no stored ticket: no routing-vectors.npy
    run = make_run(tmp_path / "run-heads", tickets)
    run_index(index_config(tiny_model_dir, routing_features="embedding+tfidf",
                           routing_lead_weight=0.5), run)
    heads = run.stage_path("index")
    assert json.loads((heads / META).read_text())["lead_weight"] == 0.5
    assert not (heads / VECTORS).exists()
    assert found[0][0]["lead_weight"] == 0 and not found[0][1]
    assert "routing_lead_s" not in found[0][2]
    # auto on 24 tickets: too few to compare on the newest fifth, so the index's reading
    assert found["auto"][0]["lead_weight"] == 0 and not found["auto"][1]
    assert found["auto"][2]["routing_lead_s"] >= 0
    meta, has_vectors, summary = found[0.5]
    assert meta["lead_weight"] == 0.5 and has_vectors
    assert summary["routing_reading"]["lead_weight"] == 0.5

    # served: the query and every indexed ticket read with the lead, the 10 nearest of the
    # index's candidates (all 24 here) vote; a ticket added since the index is read fresh
    run = tmp_path / "run-0.5"
    cfg = index_config(tiny_model_dir, routing_features="knn", routing_lead_weight=0.5)
    s = Searcher(run, cfg)
    try:
        added = {"id": "NEW1", "text": "vpn vpn vpn. printer jam toner", "category": "hardware",
                 "subcategory": "printer"}
        s.upsert([added])
        enc = encoder_for(str(tiny_model_dir), "torch")
        texts = [*tickets["text"].tolist(), added["text"]]
        labels = [*tickets["category"].tolist(), "hardware"]
        read = add_lead(enc.encode(texts), texts, enc, 0.5)
        q = add_lead(enc.encode([VPN]), [VPN], enc, 0.5)[0]
        sims = read @ q
        best = np.argsort(-sims, kind="stable")[:10]
        want = winner(vote_shares([labels[j] for j in best], [float(sims[j]) for j in best]))
        asked: list[list[int]] = []
        rows = s.router.rows

        def spy(keys, seqs, fresh):  # type: ignore[no-untyped-def]
            asked.append(list(keys))
            return rows(keys, seqs, fresh)

        s.router.rows = spy  # type: ignore[method-assign, union-attr]
        got = s.route(VPN)
        assert got is not None and want is not None
        assert sorted(asked[0]) == list(range(25))  # every ticket is a candidate
        assert got["category"]["value"] == want[0]
        assert got["category"]["probability"] == pytest.approx(want[1], abs=1e-4)
        # not what the index's own reading votes (so the lead reading was served)
        plain = enc.encode(texts) @ enc.encode([VPN])[0]
        top = np.argsort(-plain, kind="stable")[:10]
        other = winner(vote_shares([labels[j] for j in top], [float(plain[j]) for j in top]))
        assert other is not None and other[1] != pytest.approx(want[1], abs=1e-4)
        # no candidate from the index (an empty or fully filtered one): no vote, no error
        dense = s.index.dense
        s.index.dense = lambda vec, k: []  # type: ignore[method-assign]
        assert s.route(VPN) == {}
        s.index.dense = dense  # type: ignore[method-assign]
        # the ticket added since the index has no stored row: it is read fresh, the same way
        assert lead(added["text"]) != added["text"]
        s.router.rows = rows  # type: ignore[method-assign, union-attr]
        np.testing.assert_allclose(s._routing_rows(  # type: ignore[arg-type]
            s.router, s.index, s.encoder, s.meta, [24, 0]), read[[24, 0]], atol=1e-5)
    finally:
        s.close()


def test_the_reading_is_chosen_by_the_brier_score_not_accuracy() -> None:
    from ticketsim.index.routing import prefer_lead

    # the demo's fine-tuned model: one validation ticket more right as indexed, but the lead
    # reading's probabilities much closer to the truth (held out it routed 0.713 vs 0.667)
    assert prefer_lead({"accuracy": 0.9796, "brier": 0.0745}, {"accuracy": 0.9781, "brier": 0.0613})
    assert not prefer_lead({"accuracy": 0.90, "brier": 0.20}, {"accuracy": 0.95, "brier": 0.21})
    assert not prefer_lead({"accuracy": 0.9, "brier": 0.2}, {"accuracy": 0.9, "brier": 0.2})
    assert not prefer_lead(None, {"accuracy": 1.0, "brier": 0.0})


def test_routing_lead_is_off_where_the_index_cannot_serve_it() -> None:
    from ticketsim.config import IndexConfig
    from ticketsim.index.routing import routing_lead

    assert routing_lead(IndexConfig(), 0.0) == 0.5  # auto: the candidate weight
    assert routing_lead(IndexConfig(routing_lead_weight=0.25), 0.0) == 0.25
    assert routing_lead(IndexConfig(routing_lead_weight=0), 0.0) == 0.0
    assert routing_lead(IndexConfig(), 0.5) == 0.0  # the index already reads with the lead
    assert routing_lead(IndexConfig(routing=False), 0.0) == 0.0
    # vectors from `ticketsim embed`: the index stage does not re-embed, so evaluate must not
    # measure a lead reading that is never served
    assert routing_lead(IndexConfig(embeddings="shards/manifest.json"), 0.0) == 0.0


def test_evaluate_fits_the_router_on_the_index_fields_and_scores_its_own() -> None:
    """The reading is chosen over every field the index routes; evaluate scores the router
    the index would fit, on the fields evaluate reports."""
    from ticketsim.config import IndexConfig
    from ticketsim.evaluation.routing import evaluate_router
    from ticketsim.index.routing import fit_routing

    x, lead, texts, y = _lead_knows(n=240)
    rng = np.random.default_rng(3)
    group = np.array([f"g{i}" for i in rng.integers(0, 3, size=len(y))], dtype=object)
    fields = {"category": y, "assignment_group": group}
    split = np.array(["train"] * 200 + ["test"] * 40, dtype=object)
    order = np.arange(len(y))
    got = evaluate_router(x, texts, split, fields, IndexConfig(), order, lead, 0.5,
                          report=["category"])
    assert list(got) == ["category"]
    served = fit_routing(x[:200], texts[:200], {f: v[:200] for f, v in fields.items()},
                         order[:200], IndexConfig(), "", lead[:200], 0.5)
    assert served is not None
    assert got["category"]["lead_weight"] == served.lead_weight
