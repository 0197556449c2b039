"""The REST API and the web page over one run directory (``ticketsim serve``).

:func:`create_app` builds a FastAPI app around a :class:`~ticketsim.service.holder.SearcherHolder`:
search by text or ticket id, add / replace / delete tickets, feedback into the links
store, hot reload, health and stats, the OpenAPI docs and a static web page. Every
limit comes from ``serve`` in the config; every error is JSON ``{"error", "field",
"hint"}`` with no stack trace and no file path; nothing a request sends is ever used
as a file path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketsim.config import Config
from ticketsim.data.store import LinksStore
from ticketsim.errors import TicketsimError
from ticketsim.ids import short
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import RunDir
from ticketsim.service.holder import SearcherHolder
from ticketsim.service.schemas import (
    DeleteOut,
    ErrorOut,
    FeedbackIn,
    FeedbackOut,
    HealthOut,
    ReloadOut,
    SearchOut,
    TicketsOut,
    clean_str,
    naive_utc,
    request_models,
)
from ticketsim.service.security import (
    BodyLimit,
    SameOrigin,
    SecurityHeaders,
    Timeout,
    api_key_dependency,
    http_protocol,
)

STATIC = Path(__file__).parent / "static"
LOG = logging.getLogger("ticketsim.service")
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Bad request (message says what to change)"},
    401: {"model": ErrorOut, "description": "Missing or wrong API key"},
    413: {"model": ErrorOut, "description": "Body larger than serve.max_body_bytes"},
    504: {"model": ErrorOut, "description": "Took longer than serve.timeout_seconds"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut, "description": "Unknown ticket"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The pair breaks a links-store rule (a ticket linked to itself)"}}
LINK_LABELS = {"duplicate": (1, "duplicate"), "related": (1, "related"), "not_related": (0, "related")}
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.\-~]+){2,}[\\/]?")


def scrub(text: str) -> str:
    """Error text safe for a client: file-system paths replaced by <path>."""
    return _PATH.sub("<path>", text)


def error_response(status: int, message: str, field: str | None = None,
                   hint: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": scrub(message), "field": field, "hint": scrub(hint) if hint else None}
    return JSONResponse(body, status_code=status, headers=headers)


class NotFound(TicketsimError):
    """A ticket id the index does not hold (404)."""


class Conflict(TicketsimError):
    """A well-formed request the links store's rules refuse, e.g. a self-link (409)."""


def create_app(run_dir: str | Path | RunDir, cfg: Config | None = None, *,
               reporter: Reporter = NULL, holder: SearcherHolder | None = None) -> FastAPI:
    """The service app for one run directory (its index must exist); ``holder`` injects a prepared one."""
    cfg = cfg or Config()
    scfg = cfg.serve
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    holder = holder or SearcherHolder(run, cfg, reporter=reporter)
    api_key = os.environ.get(scfg.api_key_env) or None
    auth = [Depends(api_key_dependency(api_key))]
    models = request_models(scfg)
    by_text, by_id, tickets_in = models["by_text"], models["by_id"], models["tickets"]
    links_path = cfg.data.links_store

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        holder.start_polling(scfg.reload_poll_seconds)
        try:
            yield
        finally:
            holder.close()

    app = FastAPI(title="ticketsim", version="1", lifespan=lifespan, docs_url=None,
                  description="Similar- and duplicate-ticket search over one run directory.")
    _offline_docs(app)
    app.state.holder = holder
    app.state.serve = scfg
    app.state.api_key_required = api_key is not None
    app.state.started = time.time()

    # -------------------------------------------------------------- errors: JSON, no traces, no paths
    @app.exception_handler(NotFound)
    async def _not_found(request: Request, err: NotFound) -> JSONResponse:
        return error_response(404, err.message, err.field, err.hint)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, err: Conflict) -> JSONResponse:
        return error_response(409, err.message, err.field, err.hint)

    @app.exception_handler(TicketsimError)
    async def _user_error(request: Request, err: TicketsimError) -> JSONResponse:
        return error_response(400, err.message, err.field, err.hint)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return error_response(err.status_code, str(err.detail), headers=getattr(err, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e.get("loc", [])), "msg": str(e.get("msg", "")), "type": e.get("type")}
                   for e in err.errors()][:20]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"][1:]) or "body"
        return JSONResponse({"error": scrub(f"invalid request: {where}: {first['msg']}"),
                             "field": where, "hint": "see /docs for the request schema",
                             "detail": details}, status_code=422)

    @app.exception_handler(Exception)
    async def _crash(request: Request, err: Exception) -> JSONResponse:
        LOG.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error", hint="the server log has the details")

    # -------------------------------------------------------------- middlewares (last added runs first)
    app.add_middleware(Timeout, seconds=scfg.timeout_seconds)
    app.add_middleware(BodyLimit, max_bytes=scfg.max_body_bytes)
    app.add_middleware(SameOrigin, allowed=list(scfg.cors_origins))
    if scfg.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(scfg.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Content-Type", "X-API-Key", "Authorization",
                                          scfg.feedback_who_header])
    app.add_middleware(SecurityHeaders)

    # -------------------------------------------------------------- page and health
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/health", response_model=HealthOut, tags=["service"])
    def health() -> dict[str, str]:
        """Liveness: answers without a key and without touching the index."""
        return {"status": "ok"}

    @app.get("/stats", dependencies=auth, responses=ERRORS, tags=["service"])
    def stats() -> dict[str, Any]:
        """Index size, backend, model, thresholds, reloads."""
        with holder.lease() as s:
            out = s.stats()
        out["model"] = Path(str(out.get("model", ""))).name  # no server paths in answers
        out.update({"reloads": holder.reloads, "replayed": holder.replayed,
                    "journal_rejected": holder.rejected,
                    "uptime_s": round(time.time() - app.state.started, 1),
                    "api_key_required": app.state.api_key_required, "max_k": scfg.max_k,
                    "default_k": min(cfg.search.k, scfg.max_k), "default_mode": s.mode,
                    "status_column": s.meta.get("status_column", "status")})
        return out

    # -------------------------------------------------------------- search
    def search(body: Any) -> dict[str, Any]:
        """Closest tickets to a text or to an indexed ticket, with scores, labels and columns."""
        text = getattr(body, "text", None)
        ticket_id = getattr(body, "ticket_id", None)
        k = min(body.k or cfg.search.k, scfg.max_k)
        filters = body.filters.to_dict() if body.filters is not None else None
        with holder.lease() as s:
            if ticket_id is not None and s.index.store.key_of(ticket_id) is None:
                raise NotFound(f"ticket '{short(ticket_id)}' is not in the index", field="ticket_id",
                               hint="check the id, or add the ticket first")
            # the champion's mode unless asked or configured; notes name filter values that exist
            a = s.answer(text, ticket_id=ticket_id, k=k, filters=filters, mode=body.mode)
        return {"query_id": ticket_id, "mode": a.mode, "k": k, "hits": [h.to_dict() for h in a.hits],
                "notes": a.notes, "label_meaning": a.label_meaning, "routing": a.routing}

    # the request models are built per app, so their annotations are set here, not as strings
    search.__annotations__["body"] = Annotated[by_text | by_id, Body()]
    app.post("/search", response_model=SearchOut, dependencies=auth, operation_id="search",
             responses={**ERRORS, **NOT_FOUND}, tags=["search"])(search)

    # -------------------------------------------------------------- tickets
    # ':path': an id may hold '/' (the id rule of ticketsim.ids); the page encodes it
    @app.get("/tickets/{ticket_id:path}", dependencies=auth, responses={**ERRORS, **NOT_FOUND},
             operation_id="get_ticket",
             tags=["tickets"])
    def get_ticket(ticket_id: str) -> dict[str, Any]:
        """One indexed ticket with its whole text (the page's 'open')."""
        with holder.lease() as s:
            rec = s.get_ticket(clean_str(ticket_id))
        if rec is None:
            raise NotFound(f"ticket '{short(ticket_id)}' is not in the index", field="ticket_id")
        return rec

    def add_tickets(body: Any) -> dict[str, Any]:
        """Add or replace tickets; searchable (dense and keyword) when this returns."""
        with holder.lease() as s:
            status_col = s.meta.get("status_column", "status")
        records = []
        for t in body.tickets:
            rec: dict[str, Any] = {k: v for k, v in (t.extra or {}).items() if k != "text"}
            rec.update({"id": t.id.strip(), "short_description": t.short_description,
                        "description": t.description, "category": t.category,
                        "subcategory": t.subcategory, status_col: t.status,
                        "created": c.isoformat() if (c := naive_utc(t.created)) else None})
            if t.text:
                rec["text"] = t.text
            records.append(rec)
        # one batch naming an id twice: the last one wins (the vector index takes each key once)
        records = list({r["id"]: r for r in records}.values())
        n = holder.upsert(records)
        return {"upserted": n, "ids": [r["id"] for r in records]}

    add_tickets.__annotations__["body"] = tickets_in
    app.post("/tickets", response_model=TicketsOut, dependencies=auth, responses=ERRORS,
             operation_id="add_tickets",
             tags=["tickets"])(add_tickets)

    @app.delete("/tickets/{ticket_id:path}", response_model=DeleteOut, dependencies=auth,
                operation_id="delete_ticket",
                responses={**ERRORS, **NOT_FOUND}, tags=["tickets"])
    def delete_ticket(ticket_id: str) -> dict[str, Any]:
        """Delete a ticket from the index (vector and keyword side)."""
        tid = clean_str(ticket_id)
        n = holder.delete([tid])
        if n == 0:
            raise NotFound(f"ticket '{short(ticket_id)}' is not in the index", field="ticket_id")
        return {"deleted": n, "id": tid}

    # -------------------------------------------------------------- feedback
    @app.post("/feedback", response_model=FeedbackOut, dependencies=auth,
              responses={**ERRORS, **NOT_FOUND, **CONFLICT}, tags=["feedback"])
    def feedback(body: FeedbackIn, request: Request) -> dict[str, Any]:
        """A person's answer for a pair: written to the links store (source 'web')."""
        a, b = body.a.strip(), body.b.strip()
        with holder.lease() as s:  # the ticket being handled may be new; the other must be indexed
            if s.index.store.key_of(a) is None and s.index.store.key_of(b) is None:
                raise NotFound(f"neither '{short(a)}' nor '{short(b)}' is in the index", field="b",
                               hint="give the id of a search result")
        if a == b:
            # 409, not 400: the body is schema-valid (JSON Schema cannot say a != b)
            raise Conflict("a ticket cannot be linked to itself", field="b")
        who = clean_str(request.headers.get(scfg.feedback_who_header, "").strip())[:100] or "web"
        label, kind = LINK_LABELS[body.label]
        result = LinksStore(links_path).add([(a, b, label, None, kind)], source="web", who=who)
        return {"a": min(a, b), "b": max(a, b), "label": body.label, "added": result.added,
                "conflict": bool(result.conflicts)}

    # -------------------------------------------------------------- reload
    @app.post("/reload", response_model=ReloadOut, dependencies=auth, responses=ERRORS,
              tags=["service"])
    def reload(force: bool = False) -> dict[str, Any]:
        """Pick up a newly built index / model now (hot swap; queries keep being answered)."""
        swapped, replayed = holder.reload(force=force)
        with holder.lease() as s:
            st = s.stats()
        st["model"] = Path(str(st.get("model", ""))).name
        return {"reloaded": swapped, "replayed": replayed, "stats": st}

    plain_openapi = app.openapi

    def openapi_with_links() -> dict[str, Any]:
        """The schema plus OpenAPI links: what POST /tickets answers feeds GET, search and DELETE."""
        schema = plain_openapi()
        ok = schema["paths"]["/tickets"]["post"]["responses"]["200"]
        new_id = "$response.body#/ids/0"
        ok.setdefault("links", {
            "GetAddedTicket": {"operationId": "get_ticket", "parameters": {"ticket_id": new_id}},
            "SearchLikeAddedTicket": {"operationId": "search", "requestBody": {"ticket_id": new_id}},
            "DeleteAddedTicket": {"operationId": "delete_ticket", "parameters": {"ticket_id": new_id}},
        })
        return schema

    app.openapi = openapi_with_links  # type: ignore[method-assign]
    return app


def _offline_docs(app: FastAPI) -> None:
    """/docs with Swagger UI served from the packaged fastapi-offline assets, not a CDN, so the
    API docs work on a desk's network without internet (issue 17)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    assets = Path(str(files("fastapi_offline") / "static"))
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> Any:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json",
                                   title="ticketsim API", swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon.png")


def server_config(app: FastAPI, cfg: Config, log_level: str = "info") -> Any:
    """The uvicorn config ``ticketsim serve`` runs (host, port and keep-alive from ``serve``)."""
    import uvicorn

    return uvicorn.Config(app, host=cfg.serve.host, port=cfg.serve.port, log_level=log_level,
                          timeout_graceful_shutdown=5, server_header=False, http=http_protocol(),
                          timeout_keep_alive=cfg.serve.keep_alive_seconds)  # type: ignore[arg-type]
