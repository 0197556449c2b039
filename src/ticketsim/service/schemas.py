"""Request and response bodies of the REST API (pydantic; they are the OpenAPI schema).

Every request model forbids unknown keys and bounds its sizes, so the published
schema says exactly what is accepted: a request valid under the schema gets a 2xx
(or 404 for an unknown ticket), which the schemathesis test holds the service to.
Limits that come from the config (k, text length, batch size) are set by
:func:`request_models`, which builds the models for one app.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Annotated, Any, Literal, get_type_hints

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
)

from ticketsim.config import ServeConfig
from ticketsim.errors import TicketsimError
from ticketsim.ids import MAX_LEN, RESERVED_COLUMNS
from ticketsim.index.base import MODE_SCORES, Hit, naive_utc

# White space as Python's str.strip() sees it, spelled out: `\s` differs between Python's re
# (which pydantic uses for this lookahead pattern) and the ECMAScript regexes that API clients
# and schemathesis read (\x1c-\x1f and \x85 are space to Python only), so an id like "\x1c"
# was schema-valid to a client yet refused.
_SP = r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# not blank, with the same spelled-out white space (`\S` refused "\x1f" that the schema allowed)
NonBlank = Annotated[str, Field(min_length=1, max_length=MAX_LEN, pattern=rf"[^{_SP}]")]
# the id rule of ticketsim.ids as a schema pattern: not blank, and not '.' or '..' once trimmed
TicketId = Annotated[str, Field(min_length=1, max_length=MAX_LEN,
                                pattern=rf"^(?![{_SP}]*\.{{1,2}}[{_SP}]*$)[\s\S]*[^{_SP}][\s\S]*$",
                                description="Ticket id: any characters ('/' too), not blank, "
                                "not '.' or '..'.")]
Scalar = str | int | float | bool | None


def _no_reserved_keys(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Carried-through columns live beside the result fields, so they may not reuse their names."""
    bad = sorted(k for k in (value or {}) if k in RESERVED_COLUMNS)
    if bad:
        raise ValueError(f"extra column name(s) {bad} are reserved for result fields; "
                         "use another name")
    return value


def _reserved_in_schema(schema: dict[str, Any]) -> None:
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "object":
            option.setdefault("propertyNames", {})["not"] = {"enum": list(RESERVED_COLUMNS)}


Extra = Annotated[Annotated[dict[Annotated[str, Field(max_length=100)], Scalar], Field(max_length=50)]
                  | None, Field(json_schema_extra=_reserved_in_schema),
                  AfterValidator(_no_reserved_keys)]


_ISO_START = re.compile(r"\d{4}-\d{2}-\d{2}(?![0-9])")


def _iso_only(value: Any) -> Any:
    """The schema says an ISO 8601 string; pydantic alone would also take Unix seconds, as a
    number or as a string of digits ("0" was accepted: the slow schemathesis run, ST201)."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_START.match(value):
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


def _json_integer(v: Any) -> Any:
    """JSON Schema's integer: 5 and 5.0, not true or "5" (pydantic's lax int takes both)."""
    if isinstance(v, bool | str):
        raise ValueError("must be an integer")
    return v


JSON_INTEGER = BeforeValidator(_json_integer)  # after the Field constraints, which stay in the schema


class Strict(BaseModel):
    # python-re: the id pattern needs a look-ahead, which pydantic's default engine lacks
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")

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


def _hit_fields() -> dict[str, Any]:
    """:class:`Hit`'s fields, declared there once; the mode scores and the carried-through
    columns stay undeclared extras (present only when a mode or a column supplies them)."""
    hints = get_type_hints(Hit)
    return {f.name: (hints[f.name], ... if f.default is dataclasses.MISSING else f.default)
            for f in dataclasses.fields(Hit) if f.name != "extra" and f.name not in MODE_SCORES}


HitOut = create_model(
    "HitOut", __config__=ConfigDict(extra="allow"), __module__=__name__,
    __doc__="One similar ticket: cosine score, calibrated duplicate probability, label, columns.",
    **_hit_fields())


class RoutingOut(BaseModel):
    """A suggested value for one routing field and the classifier's probability for it."""

    value: str
    probability: float


class SearchOut(BaseModel):
    query_id: str | None = None
    mode: str
    k: int
    hits: list[HitOut]
    notes: list[str] = Field(default_factory=list, description="Why nothing matched, e.g. a "
                             "filter value no ticket has (with the values that exist).")
    label_meaning: dict[str, str] | None = Field(
        None, description="Per label (duplicate / related / unrelated): its precision and recall "
        "measured on held-out pairs, in words, or why it is not measured; null without thresholds.")
    routing: dict[str, RoutingOut] | None = Field(
        None, description="Text queries: suggested category / subcategory / assignment group "
        "(field -> value, probability) from the index's routing heads; null for a ticket-id "
        "query or an index without them.")


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
    text = Annotated[str, Field(min_length=1, max_length=cfg.reject_text_over_chars)]
    opt_text = Annotated[str, Field(max_length=cfg.reject_text_over_chars)]
    k = Annotated[Annotated[int, Field(ge=1, le=cfg.max_k), JSON_INTEGER] | None,
                  Field(None, description="Results (default: search.k).")]
    mode = Literal["dense", "keyword", "hybrid"] | None
    common: dict[str, Any] = {"k": (k, None), "mode": (mode, None), "filters": (FiltersIn | None, None)}
    by_text = create_model("SearchByText", __base__=Strict, __doc__="Search with a ticket text.",
                           text=(text, ...), **common)
    by_id = create_model("SearchById", __base__=Strict,
                         __doc__="Search with an indexed ticket (itself excluded).",
                         ticket_id=(NonBlank, ...), **common)
    ticket = create_model(
        "TicketIn", __base__=Strict, __doc__="A ticket to add or replace.",
        id=(TicketId, ...),
        short_description=(opt_text, ""),
        description=(opt_text, ""),
        category=(Annotated[str, Field(max_length=200)], ""),
        subcategory=(Annotated[str, Field(max_length=200)], ""),
        status=(Annotated[str, Field(max_length=200)], ""),
        created=(IsoDatetime | None, None),
        text=(opt_text | None, None),
        extra=(Extra, None),
    )
    tickets = create_model("TicketsIn", __base__=Strict, __doc__="Tickets to add or replace.",
                           tickets=(Annotated[list[ticket], Field(min_length=1,
                                                                  max_length=cfg.max_batch)], ...))
    return {"by_text": by_text, "by_id": by_id, "ticket": ticket, "tickets": tickets}


# CLI option for each request field, so a CLI error names what the user typed
CLI_NAMES = {"text": "QUERY", "ticket_id": "--id", "k": "--k", "mode": "--mode",
             "created_from": "--since", "created_to": "--until", "category": "--category",
             "status": "--status", "exclude_ids": "--exclude"}


def validate_search(serve: ServeConfig, *, text: str | None, ticket_id: str | None,
                    k: int | None, mode: str | None, filters: dict[str, Any] | None) -> BaseModel:
    """A CLI search checked by the very models behind POST /search (same k, text, date rules);
    a violation is a TicketsimError naming the CLI option."""
    models = request_models(serve)
    body: dict[str, Any] = {"k": k, "mode": mode, "filters": filters or None}
    body.update({"ticket_id": ticket_id} if ticket_id is not None else {"text": text})
    model = models["by_id" if ticket_id is not None else "by_text"]
    try:
        return model.model_validate({key: v for key, v in body.items() if v is not None})
    except ValidationError as err:
        e = err.errors()[0]
        field = next((CLI_NAMES[str(p)] for p in reversed(e["loc"]) if str(p) in CLI_NAMES),
                     ".".join(str(p) for p in e["loc"]))
        raise TicketsimError(str(e["msg"]), field=field) from None
