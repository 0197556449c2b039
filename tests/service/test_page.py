"""The web page end to end in headless Chromium (Debian's; never `playwright install`).

With the tiny model: the page shows results, keeps a '<script>' ticket as text and
records feedback. With the real MiniLM base model (about 3 s, so not marked slow) over
a small written history: a typed
*paraphrase* of a held-out ticket finds its true duplicate, and the feedback click
lands in the links store.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from service_helpers import index_config, make_run, service_config, serving, write_thresholds

from ticketsim.data.store import LinksStore
from ticketsim.rundir import RunDir

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
EVIL = '<script>window.PWNED=1</script><img src=x onerror="window.PWNED=2">'

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium missing: run `make sysdeps`")


def _browser(p):  # type: ignore[no-untyped-def]
    return p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)


def _search_and_mark(base: str, ticket_id: str, text: str, expect: str, label: str,
                     requests: list[str]) -> dict:
    """Type a ticket into the page, wait for results, click ``label`` on ``expect``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(base + "/")
            # a selector wait, not wait_for_function: polling a JS predicate needs eval,
            # which the page's Content-Security-Policy (script-src 'self') rightly refuses
            page.wait_for_selector("#stats:not(:empty)")
            page.fill("#ticket-id", ticket_id)
            page.fill("#query", text)
            page.click("#search-button")
            page.wait_for_selector("article.hit")
            ids = page.eval_on_selector_all("article.hit", "els => els.map(e => e.dataset.id)")
            titles = page.eval_on_selector_all(".hit-title", "els => els.map(e => e.textContent)")
            markup = page.inner_html("#results")
            routing = page.inner_text("#routing")  # suggested routing of the typed ticket
            found = expect in ids
            if found:
                page.click(f"article.hit[data-id='{expect}'] .fb-{label}")
                page.wait_for_selector(f"article.hit[data-id='{expect}'] .done")
            page.click("article.hit .feedback button")  # Open the first one
            page.wait_for_selector("#detail:not([hidden])")
            detail = page.inner_text("#detail-text")
            pwned = page.evaluate("() => window.PWNED === undefined ? null : window.PWNED")
            message = page.inner_text("#message")
        finally:
            browser.close()
    return {"ids": ids, "titles": titles, "markup": markup, "found": found, "detail": detail,
            "pwned": pwned, "message": message, "routing": routing}


def test_page_renders_escapes_and_records_feedback(svc_run: RunDir, tiny_model_dir: Path,
                                                   tmp_path: Path) -> None:
    pytest.importorskip("playwright")
    from fastapi.testclient import TestClient

    from ticketsim.service.app import create_app

    cfg = service_config(tiny_model_dir, tmp_path / "links.sqlite", reload_poll_seconds=0)
    app = create_app(svc_run, cfg)
    TestClient(app).post("/tickets", json={"tickets": [{
        "id": "EVIL1", "short_description": EVIL, "description": "vpn cannot connect " + EVIL,
        "extra": {"resolution_notes": "</div><b>bold?</b>"}}]})
    requests: list[str] = []
    with serving(app) as base:
        out = _search_and_mark(base, "NEW-7", "vpn cannot connect " + EVIL, "EVIL1", "duplicate",
                               requests)
    assert out["found"], out["ids"]
    assert EVIL in out["titles"]  # shown as text
    assert "<script>" not in out["markup"] and "&lt;script&gt;" in out["markup"]
    assert "<b>bold?</b>" not in out["markup"]
    assert out["pwned"] is None
    assert out["routing"].startswith("Suggested routing: category ")
    assert "subcategory " in out["routing"] and "%)" in out["routing"]
    assert "recorded NEW-7 ~ EVIL1" in out["message"]
    rows = LinksStore(tmp_path / "links.sqlite").history()
    assert rows[["a", "b", "label", "kind", "source", "who"]].values.tolist() == [
        ["EVIL1", "NEW-7", 1, "duplicate", "web", "web"]]
    assert all(u.startswith(base) for u in requests), requests  # nothing leaves the machine
    app.state.holder.close()


DUP_WORDS = "duplicate: 9 in 10 are real duplicates (27 of 30); finds 1 in 7 of them (27 of 190)"
REL_WORDS = "related: not measured (no related links and no categories define related)"


def test_label_tooltips_say_what_each_label_is_worth(svc_run: RunDir, tiny_model_dir: Path,
                                                      tmp_path: Path) -> None:
    pytest.importorskip("playwright")
    from fastapi.testclient import TestClient
    from playwright.sync_api import sync_playwright

    from ticketsim.service.app import create_app

    cfg = service_config(tiny_model_dir, tmp_path / "l.sqlite", reload_poll_seconds=0)
    first = create_app(svc_run, cfg)
    scores = [h["score"] for h in TestClient(first).post("/search", json={"ticket_id": "T00"})
              .json()["hits"]]
    first.state.holder.close()
    # every result is at least related (cut -1); the two closest are duplicates
    write_thresholds(svc_run, {"duplicate": {"measured": True, "words": DUP_WORDS},
                               "related": {"measured": False, "words": REL_WORDS}},
                     duplicate=(scores[1] + scores[2]) / 2, related=-1.0)
    app = create_app(svc_run, cfg)
    with serving(app) as base, sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page()
            page.goto(base + "/")
            page.wait_for_selector("#stats:not(:empty)")
            page.fill("#ticket-id", "T00")
            page.click("#search-button")
            page.wait_for_selector("article.hit")
            tags = page.eval_on_selector_all(".hit-label", """els => els.map(e => [e.textContent,
                e.title, e.tabIndex, e.getAttribute('aria-describedby')])""")
            legend = page.eval_on_selector_all("#labels-list li", "els => els.map(e => [e.id, e.textContent])")
            legend_shown = page.is_visible("#labels-help")
        finally:
            browser.close()
    app.state.holder.close()
    by_text = {t[0]: t for t in tags}
    assert by_text["duplicate"][1:] == [DUP_WORDS, 0, "meaning-duplicate"], tags
    # a label whose numbers were not measured says so on the page itself
    assert by_text["related (not measured)"][1:] == [REL_WORDS, 0, "meaning-related"], tags
    assert legend_shown and legend[:2] == [["meaning-duplicate", DUP_WORDS],
                                           ["meaning-related", REL_WORDS]]
    assert legend[2][0] == "meaning-unrelated" and "not measured" in legend[2][1]


# A small service-desk history: one ticket per issue, each written like a real ticket.
HISTORY = [
    ("I1", "network", "VPN disconnects every few minutes", "GlobalProtect VPN drops the connection every 5 minutes when working from home, have to reconnect constantly."),
    ("I2", "email", "Outlook keeps asking for password", "After the Windows update Outlook prompts for my password again and again and never connects to Exchange."),
    ("I3", "hardware", "Printer on 3rd floor jammed", "The HP printer near the kitchen on floor 3 shows paper jam in tray 2, cannot print anything."),
    ("I4", "hardware", "Laptop battery not charging", "My Dell laptop battery stays at 0% even when plugged in, the charging light is off."),
    ("I5", "access", "Account locked out", "My AD account got locked after too many login attempts, cannot log in to my PC."),
    ("I6", "software", "Excel crashes when opening large files", "Excel freezes and crashes whenever I open the monthly sales workbook (80 MB)."),
    ("I7", "access", "Need access to finance shared drive", "Please grant me read access to the \\\\fs01\\finance share, my manager approved."),
    ("I8", "network", "Wi-Fi very slow in meeting room B", "Wireless network in meeting room B is extremely slow, video calls keep freezing."),
    ("I9", "software", "Teams microphone not working", "In Microsoft Teams calls nobody can hear me, the headset microphone works in other apps."),
    ("I10", "hardware", "Second monitor not detected", "The external monitor connected to the docking station is not detected, stays black."),
    ("I11", "access", "MFA token expired", "My authenticator app stopped working after I changed phones, I cannot complete MFA sign-in."),
    ("I12", "software", "SAP login error", "SAP GUI shows 'user is locked' when I try to log in to the ERP production system."),
    ("I13", "email", "Mailbox full", "I get a warning that my mailbox is over its size limit and I cannot send e-mails."),
    ("I14", "hardware", "Keyboard keys sticking", "Several keys on my keyboard stick and type twice, especially the space bar."),
    ("I15", "software", "Install Python on workstation", "Please install Python 3.11 and VS Code on my developer workstation."),
    ("I16", "network", "Cannot reach intranet site", "The intranet portal times out from my desk but works on the guest network."),
]
# The held-out ticket (not indexed) and its paraphrase typed into the page: a duplicate of I2.
HELD_OUT_ID = "NEW-42"
PARAPHRASE = ("Since this morning's Windows patch my mail client keeps popping up a login box asking "
              "me to re-enter my credentials, and it will not connect to the mail server.")


def test_paraphrase_finds_true_duplicate_with_minilm(tmp_path: Path) -> None:
    pytest.importorskip("playwright")
    from ticketsim.index.stage import run_index
    from ticketsim.models import resolve_model
    from ticketsim.service.app import create_app

    model = Path(resolve_model("default"))
    tickets = pd.DataFrame([{"id": i, "short_description": s, "description": d, "category": c,
                             "subcategory": "", "created": pd.Timestamp("2025-01-01"),
                             "text": f"{s}. {d}", "status": "closed",
                             "resolution_notes": f"resolved {i}"} for i, c, s, d in HISTORY])
    run = make_run(tmp_path / "run", tickets)
    cfg = index_config(model)
    run_index(cfg, run)
    cfg.data.links_store = tmp_path / "links.sqlite"
    cfg.serve.reload_poll_seconds = 0
    app = create_app(run, cfg)
    requests: list[str] = []
    with serving(app) as base:
        out = _search_and_mark(base, HELD_OUT_ID, PARAPHRASE, "I2", "duplicate", requests)
    assert out["found"], out["ids"]
    assert out["ids"].index("I2") < 3, out["ids"]
    assert "category email (" in out["routing"]  # the routing head agrees with the duplicate
    rows = LinksStore(tmp_path / "links.sqlite").history()
    assert rows[["a", "b", "label", "kind", "source"]].values.tolist() == [
        ["I2", HELD_OUT_ID, 1, "duplicate", "web"]]
    app.state.holder.close()


def test_page_first_day_details(svc_run: RunDir, tiny_model_dir: Path, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17: /docs offline, no key field without a key, Open beside its hit, readable
    dates, case-insensitive filters and a message naming the values that exist."""
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    from ticketsim.service.app import create_app

    monkeypatch.delenv("TICKETSIM_API_KEY", raising=False)
    cfg = service_config(tiny_model_dir, tmp_path / "links.sqlite", reload_poll_seconds=0)
    app = create_app(svc_run, cfg)
    requests: list[str] = []
    with serving(app) as base, sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(base + "/docs")
            page.wait_for_selector(".swagger-ui .opblock", timeout=30000)  # rendered, offline
            assert "POST/search" in page.inner_text(".swagger-ui").replace("\n", "")
            page.goto(base + "/")
            page.wait_for_selector("#stats:not(:empty)")
            assert not page.is_visible("#api-key")  # no key configured: no key field
            page.fill("#query", "vpn drops")
            page.fill("#category", "NETWORK")  # the category is 'network': case is ignored
            page.click("#search-button")
            page.wait_for_selector("article.hit")
            cats = page.eval_on_selector_all(".fields div:first-child", "e => e.map(x => x.textContent)")
            assert cats and all(c.lower().startswith("network") for c in cats), cats
            created = page.inner_text("article.hit .hit-created")
            assert "T00:00" not in created and "2024" in created and any(
                m in created for m in ("Jan", "Feb", "Mar", "Apr")), created
            second = page.eval_on_selector_all("article.hit", "e => e.map(x => x.dataset.id)")[1]
            page.click(f"article.hit[data-id='{second}'] .feedback button")  # Open
            page.wait_for_selector(f"article.hit[data-id='{second}'] #detail:not([hidden])")
            page.fill("#category", "nope")
            page.click("#search-button")
            page.wait_for_selector("#message:has-text('category values')")
            assert "no ticket has category 'nope'" in page.inner_text("#message")
            assert page.is_hidden("#detail")  # parked back under <main>, not lost
        finally:
            browser.close()
    assert all(u.startswith(base) for u in requests), [u for u in requests if not u.startswith(base)]
    app.state.holder.close()
    monkeypatch.setenv("TICKETSIM_API_KEY", "s3cret")
    keyed = create_app(svc_run, cfg)
    with serving(keyed) as base, sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page()
            page.goto(base + "/")
            page.wait_for_selector("#message:has-text('API key')")
            assert page.is_visible("#api-key")  # a key is configured: the field shows
        finally:
            browser.close()
    keyed.state.holder.close()
