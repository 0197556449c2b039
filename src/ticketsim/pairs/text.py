"""Text helpers shared by positives, negatives and augmenters: normalisation and keywords.

Kept tiny and dependency-free: the overlap test and the self-pair rule must agree on
what "the same text" means, so both use :func:`normalise`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_TOKEN_RE = re.compile(r"[a-z0-9][a-z0-9_\-./:]*[a-z0-9]|[a-z0-9]")

_STOP = """a about above after again against all am an and any are as at be because been before
    being below between both but by can cannot could did do does doing down during each few for
    from further had has have having he her here hers him his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours out over own
    please same she should so some such than thanks thank that the their theirs them then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours hi hello regards dear team help issue
    problem ticket user"""
STOP_WORDS: frozenset[str] = frozenset(_STOP.split())


def normalise(text: str) -> str:
    """Lower case, whitespace collapsed, punctuation at the ends stripped: the self-pair key."""
    return re.sub(r"\s+", " ", str(text).lower()).strip(" .,;:!?-")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; keeps codes such as 0x80070005, host-01.corp or v2.3 whole."""
    return _TOKEN_RE.findall(str(text).lower())


def keywords(text: str, stop_words: Iterable[str] | None = None) -> frozenset[str]:
    """Distinct non-stop-word tokens of a text (the keyword-overlap test compares these)."""
    stop = STOP_WORDS if stop_words is None else frozenset(w.lower() for w in stop_words)
    return frozenset(t for t in tokens(text) if t not in stop and len(t) > 1)
