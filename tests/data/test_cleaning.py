"""Cleaning rules, each switchable; proven through the ingest component."""

from __future__ import annotations

from pathlib import Path

import pytest

from ticketsim.config import CleaningConfig, config_from_dict
from ticketsim.data.cleaning import clean_text
from ticketsim.data.ingest import build_tickets

EMAIL = """received from: jane.doe@corp.com
Hi team,
my <b>VPN</b> drops every 5 minutes_x000D_ since the update.
Call me at +49 170 1234567 or reach 10.0.0.12.
> previous message quoted
On Mon, 3 Feb 2024, John wrote:
old reply text
"""

SIGNED = "Outlook asks for the password again and again.\nThanks,\nJane"


def test_default_cleaning_keeps_the_problem_only() -> None:
    text = clean_text(EMAIL)
    assert "received from" not in text
    assert "VPN drops every 5 minutes" in text and "<b>" not in text and "_x000D_" not in text
    assert "previous message" not in text and "old reply" not in text
    assert "+49 170 1234567" in text  # no redaction by default
    assert clean_text(SIGNED) == "Outlook asks for the password again and again."


def test_html_entities_scripts_and_control_characters() -> None:
    raw = "<div>Printer&nbsp;jam<script>alert(1)</script></div><p>floor\x002 &amp; 3</p>"
    cleaned = clean_text(raw)
    assert cleaned == "Printer jam\n\nfloor2 & 3"
    assert "alert" not in cleaned and "\x00" not in cleaned and "&amp;" not in cleaned


def _ingest_text(tmp_path: Path, description: str, **cleaning: bool) -> str:
    p = tmp_path / "t.jsonl"
    import json

    p.write_text(json.dumps({"id": "1", "short_description": "t", "description": description}) + "\n")
    cfg = config_from_dict({"data": {"tickets": str(p), "links_store": str(tmp_path / "s"),
                                     "cleaning": cleaning}})
    df, _ = build_tickets(cfg.data)
    return df.description[0]


@pytest.mark.parametrize(
    ("key", "raw", "present_when_off", "absent_when_on"),
    [
        ("html", "<b>bold</b> text", "<b>", "<b>"),
        ("email_headers", "received from: a@b.com\nproblem", "received from", "received from"),
        ("quoted_replies", "problem\n> quoted line", "quoted line", "quoted line"),
        ("signatures", "problem here\n--\nJane Doe, IT", "Jane Doe", "Jane Doe"),
        ("artefacts", "line one_x000D_line two", "_x000D_", "_x000D_"),
    ],
)
def test_each_cleaning_switch_reaches_ingest(tmp_path: Path, key: str, raw: str,
                                             present_when_off: str, absent_when_on: str) -> None:
    assert absent_when_on not in _ingest_text(tmp_path, raw, **{key: True})
    assert present_when_off in _ingest_text(tmp_path, raw, **{key: False})


@pytest.mark.config_keys(
    "data.cleaning.html", "data.cleaning.email_headers", "data.cleaning.quoted_replies",
    "data.cleaning.signatures", "data.cleaning.artefacts", "data.cleaning.redact_emails",
    "data.cleaning.redact_phones", "data.cleaning.redact_ips",
)
def test_redaction_switches_reach_ingest(tmp_path: Path) -> None:
    raw = "mail jane.doe@corp.com, phone +49 170 1234567, host 10.0.0.12 down"
    off = _ingest_text(tmp_path, raw)
    assert "jane.doe@corp.com" in off and "10.0.0.12" in off and "1234567" in off
    on = _ingest_text(tmp_path, raw, redact_emails=True, redact_phones=True, redact_ips=True)
    assert on == "mail <EMAIL>, phone <PHONE>, host <IP> down"
    only_ip = _ingest_text(tmp_path, raw, redact_ips=True)
    assert "<IP>" in only_ip and "jane.doe@corp.com" in only_ip


def test_cleaning_config_defaults() -> None:
    cfg = CleaningConfig()
    assert cfg.html and not cfg.redact_emails
