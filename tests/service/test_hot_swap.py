"""Hot swap: a rebuilt index is picked up (by polling or POST /reload) without failing a query,
and changes acknowledged through the API survive the rebuild (journal replay)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from service_helpers import index_config

from ticketsim.index.stage import run_index


def _rebuild(run, model: Path) -> None:  # type: ignore[no-untyped-def]
    run_index(index_config(model), run, force=True)


@pytest.mark.config_keys("serve.reload_poll_seconds")
def test_polling_picks_up_rebuilt_index_without_failed_queries(
        make_client, svc_run, tiny_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    c = make_client(reload_poll_seconds=0.2)
    holder = c.app.state.holder
    assert holder.poll_seconds == 0.2 and holder._poller is not None and holder._poller.is_alive()
    assert c.post("/tickets", json={"tickets": [{"id": "API1", "short_description": "quokka99 badge"}]}
                  ).status_code == 200
    assert c.delete("/tickets/T50").status_code == 200
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            statuses.append(c.post("/search", json={"text": "vpn cannot connect", "k": 3}).status_code)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    old = holder.current
    _rebuild(svc_run, tiny_model_dir)  # the rebuilt index knows neither API1 nor the delete
    deadline = time.time() + 20
    while holder.current is old and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert holder.current is not old, "the rebuilt index was not picked up"
    assert holder.reloads == 1 and holder.replayed == 2
    assert statuses and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    hits = c.post("/search", json={"text": "quokka99", "mode": "keyword"}).json()["hits"]
    assert [h["id"] for h in hits] == ["API1"]
    assert c.get("/tickets/T50").status_code == 404
    assert c.get("/stats").json()["reloads"] == 1


def test_reload_endpoint_and_off_switch(make_client, svc_run, tiny_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    c = make_client(reload_poll_seconds=0)
    holder = c.app.state.holder
    assert holder._poller is None
    assert c.post("/reload").json()["reloaded"] is False  # nothing new
    _rebuild(svc_run, tiny_model_dir)
    time.sleep(0.3)
    assert holder.reloads == 0  # no polling
    out = c.post("/reload").json()
    assert out["reloaded"] is True and out["stats"]["tickets"] == 24
    assert c.post("/reload?force=true").json()["reloaded"] is True


def test_swap_waits_for_in_flight_readers(make_client) -> None:  # type: ignore[no-untyped-def]
    c = make_client()
    holder = c.app.state.holder
    closed: list[bool] = []
    with holder.lease() as old:
        real_close = old.close
        old.close = lambda: (closed.append(True), real_close())  # type: ignore[method-assign]
        holder.reload(force=True)
        assert holder.current is not old and closed == []  # still leased: not closed
        assert old.search("vpn", k=1)  # the old index still answers
    assert closed == [True]


def test_journal_replayed_on_restart_after_rebuild(make_client, svc_run, tiny_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    c = make_client()
    c.post("/tickets", json={"tickets": [{"id": "API2", "short_description": "wombat77 laptop"}]})
    c.__exit__(None, None, None)
    _rebuild(svc_run, tiny_model_dir)
    c2 = make_client()
    assert c2.app.state.holder.replayed == 1
    assert c2.post("/search", json={"text": "wombat77", "mode": "keyword"}).json()["hits"][0]["id"] == "API2"
    c3 = make_client()  # same index stamp: nothing to replay
    assert c3.app.state.holder.replayed == 0
