"""The one rule for ticket ids, shared by ingest and the REST API.

An id is whatever the export wrote, trimmed, at most :data:`MAX_LEN` characters,
and neither ``.`` nor ``..`` (a browser or proxy folds those out of a URL, so
``/tickets/..`` could never reach the ticket). Any other character, ``/``
included, is allowed: the API's ticket routes take the rest of the path, and the
page encodes ids with ``encodeURIComponent``.
"""

from __future__ import annotations

MAX_LEN = 200
RESERVED = (".", "..")


def id_problem(value: str) -> str | None:
    """Why ``value`` (already trimmed) cannot be a ticket id, or None when it can."""
    if len(value) > MAX_LEN:
        return f"longer than {MAX_LEN} characters ({len(value)})"
    if value in RESERVED:
        return f"is '{value}', a path step no URL can reach"
    return None


def short(value: str, limit: int = 80) -> str:
    """``value`` cut for an error message, so a huge id is never echoed whole."""
    return value if len(value) <= limit else value[:limit] + f"... ({len(value)} characters)"

# Result fields of a search hit (and the ticket's own fields): a carried-through column
# (ingest's data.columns.extra, the API's ``extra``) may not take one of these names.
RESERVED_COLUMNS = ("id", "score", "probability", "label", "short_description", "description",
                    "category", "subcategory", "created", "keyword", "fused", "rerank", "text",
                    "extra")
