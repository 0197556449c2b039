"""Ticket text cleaning: what a helpdesk export adds that is not the problem description.

E-mail-to-ticket gateways leave headers, quoted replies and signatures in the body,
Excel exports leave ``_x000D_``; all of it would dominate both BM25 and the
embedding. Each rule can be switched off in ``data.cleaning``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

from ticketsim.config import CleaningConfig

_TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}
_ARTEFACT_RE = re.compile(r"_x000[dDaA]_")
_HEADER_RE = re.compile(
    r"^\s*(received from|from|sent|to|cc|bcc|subject|date|reply-to)\s*:.*$", re.IGNORECASE
)
_QUOTE_START_RE = re.compile(
    r"^\s*(-{2,}\s*original message\s*-{2,}|on .{3,200} wrote:\s*$|from: .*sent: .*)", re.IGNORECASE
)
_SIGNOFF_RE = re.compile(
    r"^\s*(thanks|thank you|thx|many thanks|regards|best regards|kind regards|best|cheers|br)\b[ ,.!]*",
    re.IGNORECASE,
)
_EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_IP_RE = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_PHONE_RE = re.compile(r"(?<![\w.])\+?\d[\d\s().-]{7,}\d(?![\w.])")
_SPACES_RE = re.compile(r"[^\S\n]+")  # any whitespace but newlines, nbsp included
_BLANKS_RE = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, skipping script and style."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(text: str) -> str:
    """Plain text of an HTML fragment; text without tags is only unescaped."""
    if not _TAG_RE.search(text):
        return html.unescape(text) if "&" in text else text
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def _strip_control(text: str) -> str:
    return "".join(
        ch for ch in text if ch in "\n\t" or not unicodedata.category(ch).startswith("C")
    )


def _drop_quoted(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if _QUOTE_START_RE.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        out.append(line)
    return out


def _drop_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if line.strip() == "--":
            return lines[:i]
    # A sign-off in the last few lines ends the message; keep the text before it.
    start = max(1, len(lines) - 4)
    for i in range(start, len(lines)):
        m = _SIGNOFF_RE.match(lines[i])
        if m and len(lines[i].strip()) <= 40:
            return lines[:i]
    return lines


def clean_text(text: str | None, cfg: CleaningConfig | None = None) -> str:
    """Clean one ticket field according to ``cfg`` (defaults: everything on, no redaction)."""
    if text is None:
        return ""
    cfg = cfg or CleaningConfig()
    t = str(text)
    if cfg.artefacts:
        t = _ARTEFACT_RE.sub("\n", t)
    t = t.replace("\r\n", "\n").replace("\r", "\n")
    if cfg.html:
        t = html_to_text(t)
    t = _strip_control(t)
    lines = t.split("\n")
    if cfg.email_headers:
        lines = [ln for ln in lines if not _HEADER_RE.match(ln)]
    if cfg.quoted_replies:
        lines = _drop_quoted(lines)
    if cfg.signatures:
        lines = _drop_signature(lines)
    t = "\n".join(lines)
    if cfg.redact_emails:
        t = _EMAIL_RE.sub("<EMAIL>", t)
    if cfg.redact_ips:
        t = _IP_RE.sub("<IP>", t)
    if cfg.redact_phones:
        t = _PHONE_RE.sub("<PHONE>", t)
    t = _SPACES_RE.sub(" ", t)
    t = "\n".join(ln.strip() for ln in t.split("\n"))
    t = _BLANKS_RE.sub("\n\n", t)
    return t.strip()
