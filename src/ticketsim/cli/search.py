"""``ticketsim search``, ``dedup`` and ``serve``: use the run's index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ticketsim.cli.common import (
    DEFAULT_RUN_DIR,
    ConfigOpt,
    RunDirOpt,
    SetOpt,
    app,
    console,
    err_console,
    load,
)
from ticketsim.cli.render import compact_hits, hits_table, reporter
from ticketsim.errors import TicketsimError
from ticketsim.rundir import RunDir


def _filters(category: list[str] | None, status: list[str] | None, since: str | None,
             until: str | None, exclude: list[str] | None) -> dict[str, Any]:
    f: dict[str, Any] = {"category": category or None, "status": status or None,
                         "created_from": since, "created_to": until, "exclude_ids": exclude or None}
    return {k: v for k, v in f.items() if v}


CategoryOpt = Annotated[list[str] | None, typer.Option("--category", help="Only this category "
                                                       "(repeatable).")]
StatusOpt = Annotated[list[str] | None, typer.Option("--status", help="Only this status (repeatable).")]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Created on/after (ISO date).")]
UntilOpt = Annotated[str | None, typer.Option("--until", help="Created before (ISO date).")]
ExcludeOpt = Annotated[list[str] | None, typer.Option("--exclude", help="Leave out this id (repeatable).")]

@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="Ticket text to search for.")] = None,
    id_: Annotated[str | None, typer.Option("--id", help="Search with an existing ticket.")] = None,
    k: Annotated[int | None, typer.Option("--k", "-k", help="Results to show.")] = None,
    mode: Annotated[str | None, typer.Option(
        help="dense, keyword or hybrid (default: search.mode; its default, champion, is "
             "evaluate/champion.json's mode, dense before evaluate).")] = None,
    category: CategoryOpt = None,
    status: StatusOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    exclude: ExcludeOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Find the closest past tickets to a text or to a ticket id.

    Example: ticketsim search --run-dir runs/demo "vpn keeps disconnecting" --status open
    """
    from ticketsim.service.schemas import validate_search

    if (query is None) == (id_ is None):
        raise TicketsimError("give either a query text or --id TICKET")
    cfg = load(config, set_, run_dir)
    # the API's own request model: same rules for k, empty text and dates as POST /search
    req = validate_search(cfg.serve, text=query, ticket_id=id_, k=k, mode=mode,
                          filters=_filters(category, status, since, until, exclude))
    filters = req.filters.to_dict() if req.filters is not None else None  # type: ignore[attr-defined]
    from ticketsim.index.search import Searcher

    searcher = Searcher(RunDir(run_dir), cfg, reporter=reporter())  # warnings (a rebuilt ANN file)
    try:
        ans = searcher.answer(query, ticket_id=id_, k=req.k or cfg.search.k,  # type: ignore[attr-defined]
                              filters=filters, mode=mode, route=not as_json)
    finally:
        searcher.close()
    if ans.notes:
        raise TicketsimError("; ".join(ans.notes), hint="filter values match case-insensitively")
    hits = [h.to_dict() for h in ans.hits]
    routing, meaning = ans.routing, ans.label_meaning or {}
    if as_json:
        print(json.dumps(hits, default=str, indent=2))
        return
    if routing:  # suggested routing of the pasted ticket (index.routing)
        console.print("suggested routing: " + " · ".join(
            f"{f.replace('_', ' ')} {v['value']} ({v['probability']:.0%})" for f, v in routing.items()),
            highlight=False, markup=False)
    if not hits:
        console.print("no results")
        return
    if console.width <= 80:
        compact_hits(hits, id_, query)
    else:
        hits_table(hits, id_, query)
    for label in dict.fromkeys(h["label"] for h in hits if h.get("label")):
        console.print(meaning.get(label, ""), markup=False, highlight=False)  # what a label is worth
    if ans.champion:
        console.print(ans.champion, style="dim", markup=False, highlight=False)


@app.command()
def dedup(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for dedup.csv and "
                                             "dedup.json (default: <run dir>/dedup).")] = None,
    threshold: Annotated[float | None, typer.Option(help="Cosine at or above which two tickets "
                                                    "are duplicates (default: thresholds.json).")
                         ] = None,
    neighbours: Annotated[int, typer.Option(help="Nearest tickets compared per ticket.")] = 10,
    min_size: Annotated[int | None, typer.Option(help="Smallest cluster (default: "
                                                 "search.dedup_min_size).")] = None,
    all_tickets: Annotated[bool, typer.Option("--all", help="Every ticket, not only the open backlog "
                                            "(statuses other than resolved, closed, ...).")
                           ] = False,
    category: CategoryOpt = None,
    status: StatusOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
) -> None:
    """Group the open backlog (or any filter) into likely-duplicate clusters for review.

    Example: ticketsim dedup --run-dir runs/demo --status New --status "In Progress"
    """
    from ticketsim.index.dedup import dedup_selection, find_clusters, write_clusters
    from ticketsim.index.search import Searcher

    cfg = load(config, set_, run_dir)
    searcher = Searcher(RunDir(run_dir), cfg, reporter=reporter())
    try:
        filters = dedup_selection(searcher, status=status, every_status=all_tickets,
                                  category=category, created_from=since, created_to=until)
        result = find_clusters(searcher, filters, threshold=threshold, min_size=min_size,
                               neighbours=neighbours, reporter=reporter())
    finally:
        searcher.close()
    csv_path, json_path = write_clusters(result, out or Path(run_dir) / "dedup")
    which = f" (status {', '.join(filters.status)})" if filters.status else ""
    console.print(f"{len(result['clusters'])} clusters of likely duplicates among "
                  f"{result['selected']} tickets{which} (cosine >= {result['threshold']:.3f})",
                  highlight=False)
    for c in result["clusters"][:10]:
        console.print(f"  #{c['cluster']} ({c['size']}): " + ", ".join(
            f"{t['id']} {str(t.get('short_description', ''))[:40]!r}" for t in c["tickets"][:4]),
            highlight=False)
    console.print(f"wrote {csv_path} and {json_path}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: serve.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serve.port).")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    run_dir: RunDirOpt = Path(DEFAULT_RUN_DIR),
) -> None:
    """Serve the REST API and the web page over the run's index (needs the service extra).

    Example: ticketsim serve --run-dir runs/demo --port 8000   (then open http://127.0.0.1:8000/)
    """
    try:
        import uvicorn
    except ImportError:
        raise TicketsimError("the service needs uvicorn and fastapi",
                             hint="pip install 'ticketsim[service]'") from None
    from ticketsim.service.app import create_app, server_config

    cfg = load(config, [*(set_ or []),
                        *([f"serve.host={host}"] if host else []),
                        *([f"serve.port={port}"] if port else [])], run_dir)
    app_ = create_app(RunDir(run_dir), cfg, reporter=reporter())
    key = "required" if app_.state.api_key_required else f"off (set {cfg.serve.api_key_env} to require one)"
    err_console.print(f"serving {run_dir} on http://{cfg.serve.host}:{cfg.serve.port}/ "
                      f"(API docs /docs; API key {key})", highlight=False)
    uvicorn.Server(server_config(app_, cfg)).run()


