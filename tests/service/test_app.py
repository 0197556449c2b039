"""TestClient tests of every endpoint: results, updates, feedback, auth, limits, JSON errors, config keys."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from service_helpers import service_config, write_thresholds

from ticketsim.data.store import LinksStore
from ticketsim.rundir import RunDir
from ticketsim.service.app import create_app, scrub, server_config
from ticketsim.service.security import BodyLimit, Timeout


def _assert_error(resp, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in resp.text and "/tmp" not in resp.text and "/work" not in resp.text
    return body


def test_health_stats_page_and_docs(make_client) -> None:  # type: ignore[no-untyped-def]
    c = make_client()
    assert c.get("/health").json() == {"status": "ok"}
    st = c.get("/stats").json()
    assert st["tickets"] == 24 and st["backend"] == "usearch" and st["model"] == "model"
    page = c.get("/")
    assert page.status_code == 200 and "ticketsim" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert c.get("/static/app.js").status_code == 200
    schema = c.get("/openapi.json").json()
    assert {"/search", "/tickets", "/tickets/{ticket_id}", "/feedback", "/reload", "/health",
            "/stats"} <= set(schema["paths"])
    assert c.get("/docs").status_code == 200


def test_search_by_text_and_id_with_filters_and_modes(make_client) -> None:  # type: ignore[no-untyped-def]
    c = make_client()
    r = c.post("/search", json={"ticket_id": "T00", "k": 3})
    assert r.status_code == 200
    out = r.json()
    assert out["query_id"] == "T00" and len(out["hits"]) == 3
    assert "T00" not in [h["id"] for h in out["hits"]]
    assert out["hits"][0]["resolution_notes"].startswith("fixed ")
    r = c.post("/search", json={"text": "vpn cannot connect", "k": 50,
                                "filters": {"category": ["network"], "status": ["open"]}})
    assert {h["id"] for h in r.json()["hits"]} == {"T00", "T01"}
    r = c.post("/search", json={"text": "printer jam toner", "mode": "keyword", "k": 4})
    assert r.json()["mode"] == "keyword"
    assert all(h["category"] == "hardware" for h in r.json()["hits"])
    r = c.post("/search", json={"text": "vpn", "k": 50, "filters": {
        "created_from": "2024-01-21T00:00:00Z", "created_to": "2024-01-31T00:00:00+00:00"}})
    assert {h["id"] for h in r.json()["hits"]} == {f"T{t}2" for t in range(6)}
    r = c.post("/search", json={"text": "vpn", "mode": "hybrid", "k": 2})
    assert r.status_code == 200 and len(r.json()["hits"]) == 2


def test_search_request_errors(make_client) -> None:  # type: ignore[no-untyped-def]
    c = make_client()
    assert _assert_error(c.post("/search", json={"ticket_id": "nope"}), 404)["field"] == "ticket_id"
    _assert_error(c.post("/search", json={}), 422)
    _assert_error(c.post("/search", json={"text": "a", "ticket_id": "T00"}), 422)
    _assert_error(c.post("/search", json={"text": "a", "colour": 1}), 422)
    _assert_error(c.post("/search", json={"text": "a", "mode": "magic"}), 422)
    _assert_error(c.post("/search", json={"text": "a", "filters": {"colour": "red"}}), 422)
    _assert_error(c.post("/search", content=b"{not json", headers={"content-type":
                                                                   "application/json"}), 422)
    _assert_error(c.get("/nowhere"), 404)
    _assert_error(c.put("/search"), 405)


def test_add_search_delete_ticket(make_client) -> None:  # type: ignore[no-untyped-def]
    c = make_client()
    r = c.post("/tickets", json={"tickets": [{
        "id": " N1 ", "short_description": "zebra123 firewall blocks", "description": "port 443",
        "category": "network", "status": "open", "created": "2025-02-03T10:00:00+01:00",
        "extra": {"resolution_notes": "opened port"}}]})
    assert r.status_code == 200 and r.json() == {"upserted": 1, "ids": ["N1"]}
    for mode in ("keyword", "dense", "hybrid"):
        hits = c.post("/search", json={"text": "zebra123 firewall blocks. port 443", "mode": mode,
                                       "k": 3}).json()["hits"]
        assert hits[0]["id"] == "N1", mode
    assert hits[0]["resolution_notes"] == "opened port" and hits[0]["status"] == "open"
    assert hits[0]["created"] == "2025-02-03T09:00:00"  # stored naive UTC like ingest
    t = c.get("/tickets/N1").json()
    assert t["text"] == "zebra123 firewall blocks. port 443"
    assert c.get("/stats").json()["tickets"] == 25
    assert c.delete("/tickets/N1").json() == {"deleted": 1, "id": "N1"}
    _assert_error(c.delete("/tickets/N1"), 404)
    _assert_error(c.get("/tickets/N1"), 404)
    assert c.post("/search", json={"text": "zebra123", "mode": "keyword"}).json()["hits"] == []
    twice = [{"id": "D1", "short_description": "first"}, {"id": "D1 ", "short_description": "second"}]
    assert c.post("/tickets", json={"tickets": twice}).json() == {"upserted": 1, "ids": ["D1"]}
    assert c.get("/tickets/D1").json()["short_description"] == "second"
    _assert_error(c.post("/tickets", json={"tickets": [{"id": "   "}]}), 422)
    _assert_error(c.post("/tickets", json={"tickets": []}), 422)
    # the schema says ISO 8601 strings: Unix seconds are refused, not silently taken
    # (schemathesis' negative-data check found this)
    err = _assert_error(c.post("/tickets", json={"tickets": [{"id": "U1", "created": 735150631}]}),
                        422)
    assert "ISO 8601" in err["error"]
    _assert_error(c.post("/search", json={"text": "a", "filters": {"created_from": 0}}), 422)
    for digits in ("0", "735150631", "20240101"):  # Unix seconds as a string: refused too
        _assert_error(c.post("/search", json={"text": "a", "filters": {"created_from": digits}}),
                      422)
    assert c.post("/search", json={"text": "a", "filters": {
        "created_from": "2024-01-01"}}).status_code == 200
    for k in (True, "5", 2.5):  # k is an integer: pydantic read true as 1 (schemathesis again)
        _assert_error(c.post("/search", json={"text": "a", "k": k}), 422)
    for k in (2, 2.0):  # JSON Schema's integers
        assert len(c.post("/search", json={"text": "a", "k": k}).json()["hits"]) == 2


def test_feedback_lands_in_links_store(make_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c = make_client()
    r = c.post("/feedback", json={"a": "T10", "b": "T00", "label": "duplicate"})
    assert r.json() == {"a": "T00", "b": "T10", "label": "duplicate", "added": 1, "conflict": False}
    c.post("/feedback", json={"a": "NEW-1", "b": "T01", "label": "not_related"},
           headers={"X-Ticketsim-User": "ann"})
    c.post("/feedback", json={"a": "T00", "b": "T20", "label": "related"})
    rows = LinksStore(tmp_path / "links.sqlite").history()
    got = [tuple(x) for x in rows[["a", "b", "label", "kind", "source", "who"]].itertuples(index=False)]
    assert got == [("T00", "T10", 1, "duplicate", "web", "web"),
                   ("NEW-1", "T01", 0, "related", "web", "ann"),
                   ("T00", "T20", 1, "related", "web", "web")]
    assert c.post("/feedback", json={"a": "T00", "b": "T10", "label": "not_related"}).json()["conflict"]
    _assert_error(c.post("/feedback", json={"a": "X1", "b": "X2", "label": "duplicate"}), 404)
    _assert_error(c.post("/feedback", json={"a": "T00", "b": "T00", "label": "duplicate"}), 409)
    _assert_error(c.post("/feedback", json={"a": "T00", "b": "T01", "label": "maybe"}), 422)


@pytest.mark.config_keys("serve.api_key_env")
def test_api_key_from_environment(make_client, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MY_TS_KEY", "s3cret-key")
    c = make_client(api_key_env="MY_TS_KEY")
    assert c.app.state.api_key_required
    assert c.get("/health").status_code == 200  # liveness stays open
    assert c.get("/").status_code == 200  # the page itself holds no data
    for resp in (c.get("/stats"), c.post("/search", json={"text": "vpn"}),
                 c.post("/search", json={"text": "vpn"}, headers={"X-API-Key": "s3cret-kez"}),
                 c.post("/search", json={"text": "vpn"}, headers={"Authorization": "Bearer nope"}),
                 c.delete("/tickets/T00"), c.post("/reload")):
        assert _assert_error(resp, 401)["error"] == "missing or wrong API key"
    assert c.get("/stats", headers={"X-API-Key": "s3cret-key"}).json()["tickets"] == 24
    assert c.post("/search", json={"text": "vpn"},
                  headers={"Authorization": "Bearer s3cret-key"}).status_code == 200
    monkeypatch.delenv("MY_TS_KEY")
    open_client = make_client(api_key_env="MY_TS_KEY")
    assert not open_client.app.state.api_key_required
    assert open_client.get("/stats").status_code == 200


@pytest.mark.config_keys("serve.max_k", "serve.reject_text_over_chars", "serve.max_batch")
def test_k_text_and_batch_limits(make_client) -> None:  # type: ignore[no-untyped-def]
    c = make_client(max_k=5, reject_text_over_chars=50, max_batch=2)
    schemas = c.app.openapi()["components"]["schemas"]
    k_schema = schemas["SearchByText"]["properties"]["k"]["anyOf"][0]
    assert k_schema["maximum"] == 5
    assert schemas["SearchByText"]["properties"]["text"]["maxLength"] == 50
    assert schemas["TicketsIn"]["properties"]["tickets"]["maxItems"] == 2
    assert len(c.post("/search", json={"text": "vpn", "k": 5}).json()["hits"]) == 5
    assert _assert_error(c.post("/search", json={"text": "vpn", "k": 6}), 422)["field"].endswith("k")
    _assert_error(c.post("/search", json={"text": "v" * 51}), 422)
    assert c.post("/search", json={"text": "v" * 50}).status_code == 200
    three = [{"id": f"B{i}", "short_description": "x"} for i in range(3)]
    _assert_error(c.post("/tickets", json={"tickets": three}), 422)
    assert c.post("/tickets", json={"tickets": three[:2]}).status_code == 200


@pytest.mark.config_keys("serve.max_body_bytes")
def test_body_size_limit(make_client) -> None:  # type: ignore[no-untyped-def]
    c = make_client(max_body_bytes=2000)
    limits = [m.kwargs["max_bytes"] for m in c.app.user_middleware if m.cls is BodyLimit]
    assert limits == [2000]
    body = _assert_error(c.post("/search", json={"text": "x" * 3000}), 413)
    assert "2000 bytes" in body["error"]

    def chunks():  # streamed body without a Content-Length
        for _ in range(5):
            yield b" " * 1000

    _assert_error(c.post("/search", content=chunks(), headers={"content-type": "application/json"}),
                  413)
    assert c.post("/search", json={"text": "x" * 1500}).status_code == 200


@pytest.mark.config_keys("serve.timeout_seconds")
def test_timeout_answers_504(make_client) -> None:  # type: ignore[no-untyped-def]
    c = make_client(timeout_seconds=0.3)
    assert [m.kwargs["seconds"] for m in c.app.user_middleware if m.cls is Timeout] == [0.3]
    searcher = c.app.state.holder.current
    real = searcher.search

    def slow(*a, **kw):  # type: ignore[no-untyped-def]
        time.sleep(1.0)
        return real(*a, **kw)

    searcher.search = slow
    t0 = time.perf_counter()
    body = _assert_error(c.post("/search", json={"text": "vpn"}), 504)
    assert time.perf_counter() - t0 < 0.9 and "0.3 s" in body["error"]
    searcher.search = real
    assert c.post("/search", json={"text": "vpn"}).status_code == 200


@pytest.mark.config_keys("serve.cors_origins")
def test_cors_off_by_default_and_on_for_listed_origins(make_client) -> None:  # type: ignore[no-untyped-def]
    from fastapi.middleware.cors import CORSMiddleware

    pre = {"Origin": "https://desk.example", "Access-Control-Request-Method": "POST"}
    off = make_client()
    assert not [m for m in off.app.user_middleware if m.cls is CORSMiddleware]
    r = off.post("/search", json={"text": "vpn"}, headers={"Origin": "https://desk.example"})
    assert "access-control-allow-origin" not in r.headers
    on = make_client(cors_origins=["https://desk.example"])
    mw = [m for m in on.app.user_middleware if m.cls is CORSMiddleware]
    assert mw[0].kwargs["allow_origins"] == ["https://desk.example"]
    r = on.options("/search", headers=pre)
    assert r.headers["access-control-allow-origin"] == "https://desk.example"
    r = on.options("/search", headers={**pre, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.config_keys("serve.feedback_who_header")
def test_who_header(make_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c = make_client(feedback_who_header="X-Agent")
    c.post("/feedback", json={"a": "T00", "b": "T10", "label": "duplicate"}, headers={"X-Agent": "bob"})
    c.post("/feedback", json={"a": "T00", "b": "T11", "label": "duplicate"},
           headers={"X-Ticketsim-User": "ignored"})
    assert LinksStore(tmp_path / "links.sqlite").history()["who"].tolist() == ["bob", "web"]


@pytest.mark.config_keys("serve.host", "serve.port")
def test_server_config(svc_run: RunDir, tiny_model_dir: Path, tmp_path: Path) -> None:
    cfg = service_config(tiny_model_dir, tmp_path / "l.sqlite", host="0.0.0.0", port=8765,
                         reload_poll_seconds=0)
    app = create_app(svc_run, cfg)
    conf = server_config(app, cfg)
    assert (conf.host, conf.port, conf.app) == ("0.0.0.0", 8765, app)
    app.state.holder.close()


def test_internal_errors_are_json_without_traces(make_client) -> None:  # type: ignore[no-untyped-def]
    c = make_client()
    searcher = c.app.state.holder.current

    def boom(*a, **kw):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret detail at /srv/ticketsim/runs/x/index/tickets.sqlite")

    searcher.search = boom
    body = _assert_error(c.post("/search", json={"text": "vpn"}), 500)
    assert body["error"] == "internal error" and "secret" not in c.post(
        "/search", json={"text": "vpn"}).text


def test_scrub_removes_paths() -> None:
    assert scrub("cannot read /srv/runs/a/index/meta.json now") == "cannot read <path> now"
    assert scrub("ticket 'INC/1' is not in the index") == "ticket 'INC/1' is not in the index"


DUP_WORDS = "duplicate: 9 in 10 are real duplicates (27 of 30); finds 1 in 7 of them (27 of 190)"
REL_WORDS = "related: not measured (no related links and no categories define related)"


def test_labels_say_what_they_are_worth(make_client, svc_run: RunDir) -> None:  # type: ignore[no-untyped-def]
    from ticketsim.thresholds import LABELS

    c0 = make_client()  # no thresholds: no labels, and nothing claims a meaning
    assert c0.get("/stats").json()["labels"] is None
    out = c0.post("/search", json={"ticket_id": "T00", "k": 3}).json()
    assert out["label_meaning"] is None and all(h["label"] is None for h in out["hits"])
    write_thresholds(svc_run, {
        "duplicate": {"measured": True, "precision": 0.9, "recall": 27 / 190, "words": DUP_WORDS},
        "related": {"measured": False, "precision": 0.5, "recall": 0.5, "words": REL_WORDS}})
    c = make_client()
    st = c.get("/stats").json()["labels"]
    assert st["duplicate"] == {"min_score": 0.95, "measured": True, "precision": 0.9,
                               "recall": pytest.approx(27 / 190), "words": DUP_WORDS}
    # an unmeasured label never shows numbers as facts
    assert st["related"] == {"min_score": -1.0, "measured": False, "precision": None,
                             "recall": None, "words": REL_WORDS}
    assert st["unrelated"]["words"].startswith("unrelated: not measured")
    out = c.post("/search", json={"ticket_id": "T00", "k": 5}).json()
    assert out["label_meaning"] == {lab: st[lab]["words"] for lab in LABELS}
    assert {h["label"] for h in out["hits"]} <= {"duplicate", "related"}  # related cut -1
    assert c.get("/openapi.json").json()["components"]["schemas"]["SearchOut"]["properties"][
        "label_meaning"]
