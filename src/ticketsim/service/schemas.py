"""Request and response bodies of the REST API (pydantic; they are the OpenAPI schema).

Every request model forbids unknown keys and bounds its sizes, so the published
schema says exactly what is accepted: a request valid under the schema gets a 2xx
(or 404 for an unknown ticket), which the schemathesis test holds the service to.
Limits that come from the config (k, text length, batch size) are set by
:func:`request_models`, which builds the models for one app.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, field_validator

from ticketsim.config import ServeConfig

NonBlank = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
Scalar = str | int | float | bool | None


def _iso_only(value: Any) -> Any:
    """The schema says an ISO 8601 string; pydantic alone would also take Unix seconds."""
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("expected an ISO 8601 date or date-time string, e.g. 2024-05-01T12:00:00")
    return value


IsoDatetime = Annotated[datetime, BeforeValidator(_iso_only)]


def clean_str(value: str) -> str:
    """Lone surrogates (valid JSON, invalid UTF-8) become U+FFFD instead of a 500 in SQLite."""
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def deep_clean(value: Any) -> Any:
    """:func:`clean_str` through lists and dicts (keys too)."""
    if isinstance(value, str):
        return clean_str(value)
    if isinstance(value, list):
        return [deep_clean(x) for x in value]
    if isinstance(value, dict):
        return {deep_clean(k): deep_clean(x) for k, x in value.items()}
    return value


def naive_utc(value: datetime | None) -> datetime | None:
    """Stored dates are naive; an aware date is compared in UTC."""
    if value is not None and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _clean(cls, v: Any) -> Any:
        return deep_clean(v)


class FiltersIn(Strict):
    """Metadata filters, combined with AND."""

    category: list[Annotated[str, Field(max_length=200)]] | None = Field(None, max_length=100)
    status: list[Annotated[str, Field(max_length=200)]] | None = Field(None, max_length=100)
    created_from: IsoDatetime | None = Field(None, description="Created on or after.")
    created_to: IsoDatetime | None = Field(None, description="Created before.")
    exclude_ids: list[Annotated[str, Field(max_length=200)]] | None = Field(None, max_length=1000)

    def to_dict(self) -> dict[str, Any]:
        d = self.model_dump(exclude_none=True)
        for key in ("created_from", "created_to"):
            if key in d:
                d[key] = naive_utc(d[key])
        return d


class HitOut(BaseModel):
    """One similar ticket: cosine score, calibrated duplicate probability, label, columns."""

    model_config = ConfigDict(extra="allow")

    id: str
    score: float
    probability: float | None = None
    label: str | None = None
    short_description: str = ""
    category: str = ""
    subcategory: str = ""
    created: str | None = None


class SearchOut(BaseModel):
    query_id: str | None = None
    mode: str
    k: int
    hits: list[HitOut]
    label_meaning: dict[str, str] | None = Field(
        None, description="Per label (duplicate / related / unrelated): its precision and recall "
        "measured on held-out pairs, in words, or why it is not measured; null without thresholds.")


class TicketsOut(BaseModel):
    upserted: int
    ids: list[str]


class DeleteOut(BaseModel):
    deleted: int
    id: str


class FeedbackOut(BaseModel):
    a: str
    b: str
    label: str
    added: int
    conflict: bool


class ReloadOut(BaseModel):
    reloaded: bool
    replayed: int
    stats: dict[str, Any]


class HealthOut(BaseModel):
    status: str


class ErrorOut(BaseModel):
    """Every error the service answers: a message, and where known the field and what to do."""

    error: str
    field: str | None = None
    hint: str | None = None


class FeedbackIn(Strict):
    """A person's answer for a pair of indexed tickets."""

    a: NonBlank
    b: NonBlank
    label: Literal["duplicate", "related", "not_related"]


def request_models(cfg: ServeConfig) -> dict[str, type[BaseModel]]:
    """Search and ticket request models with this app's limits (k, text size, batch size)."""
    text = Annotated[str, Field(min_length=1, max_length=cfg.max_text_chars)]
    opt_text = Annotated[str, Field(max_length=cfg.max_text_chars)]
    k = Annotated[int | None, Field(None, ge=1, le=cfg.max_k, description="Results (default: search.k).")]
    mode = Literal["dense", "keyword", "hybrid"] | None
    common: dict[str, Any] = {"k": (k, None), "mode": (mode, None), "filters": (FiltersIn | None, None)}
    by_text = create_model("SearchByText", __base__=Strict, __doc__="Search with a ticket text.",
                           text=(text, ...), **common)
    by_id = create_model("SearchById", __base__=Strict,
                         __doc__="Search with an indexed ticket (itself excluded).",
                         ticket_id=(NonBlank, ...), **common)
    ticket = create_model(
        "TicketIn", __base__=Strict, __doc__="A ticket to add or replace.",
        id=(NonBlank, ...),
        short_description=(opt_text, ""),
        description=(opt_text, ""),
        category=(Annotated[str, Field(max_length=200)], ""),
        subcategory=(Annotated[str, Field(max_length=200)], ""),
        status=(Annotated[str, Field(max_length=200)], ""),
        created=(IsoDatetime | None, None),
        text=(opt_text | None, None),
        extra=(Annotated[dict[Annotated[str, Field(max_length=100)], Scalar],
                         Field(max_length=50)] | None, None),
    )
    tickets = create_model("TicketsIn", __base__=Strict, __doc__="Tickets to add or replace.",
                           tickets=(Annotated[list[ticket], Field(min_length=1,  # type: ignore[valid-type]
                                                                  max_length=cfg.max_batch)], ...))
    return {"by_text": by_text, "by_id": by_id, "ticket": ticket, "tickets": tickets}
