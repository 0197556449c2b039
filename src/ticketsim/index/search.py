"""The search API the CLI, the REST service and the web page share.

:class:`Searcher` is loaded once from a run directory (model, index, keyword side,
thresholds, optional cross-encoder) and answers dense, keyword and hybrid queries by
text or by ticket id, with metadata filters, through the retrievers of
:mod:`ticketsim.retrieval` (``evaluate`` ranks its held-out queries with this same class); it also adds, updates and deletes
tickets (vector and keyword side together) and reloads when a new model/index lands.
It is thread-safe: one lock around index access, the model runs outside it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ticketsim.config import Config, IndexConfig, SearchConfig
from ticketsim.errors import TicketsimError
from ticketsim.evaluation import champion
from ticketsim.ids import id_problem, short
from ticketsim.index.base import Filters, Hit
from ticketsim.index.core import TicketIndex
from ticketsim.index.embed import fingerprint_of
from ticketsim.index.routing import Router, rescore
from ticketsim.inference import encoder_for
from ticketsim.inference.lead import add_lead
from ticketsim.progress import NULL, Reporter
from ticketsim.retrieval import MODES, Query
from ticketsim.retrieval import retrievers as rtv
from ticketsim.retrieval.fusion import Fusion
from ticketsim.rundir import RunDir
from ticketsim.thresholds import FILE, Thresholds

FIXED = ("id", "short_description", "description", "category", "subcategory", "created")


@dataclasses.dataclass
class SearchAnswer:
    """A search as a person sees it (CLI, API, page): the hits and the words around them."""

    mode: str
    hits: list[Hit]
    notes: list[str]  # no hit: the filter values no ticket has, naming those that exist
    label_meaning: dict[str, str] | None  # what each label is worth, in words
    routing: dict[str, dict[str, Any]] | None  # suggested routing of a text query
    champion: str | None  # the champion's verdict in words when its mode was used by default


class Searcher:
    """Similar-ticket search over one run directory's index."""

    def __init__(self, run: RunDir | str | Path, cfg: Config | None = None, *,
                 model: str | Path | None = None, reporter: Reporter = NULL,
                 index_dir: Path | None = None, mode: str | None = None) -> None:
        """``index_dir``: another index folder than the run's (evaluate's temporary one);
        ``mode``: the default mode (else ``search.mode``)."""
        self.run = run if isinstance(run, RunDir) else RunDir(run)
        self.cfg = cfg or Config()
        self.reporter = reporter
        self.index_dir = index_dir
        self.default_mode = mode
        self._swap = threading.Lock()
        self._load(model)

    # ------------------------------------------------------------------ loading
    def _load(self, model: str | Path | None = None) -> None:
        folder = self.index_dir or self.run.require("index", "search")
        icfg: IndexConfig = self.cfg.index
        index = TicketIndex.open(folder, save_every=icfg.save_every, options={
            "expansion_search": icfg.expansion_search, "exact_below": icfg.exact_below,
            "qdrant_url": icfg.qdrant_url, "rescore": icfg.rescore})
        recovered = getattr(index.backend, "recovered", None)
        if recovered:
            self.reporter.log(f"warning: {folder.name}: {recovered}")
        meta = index.meta
        model_path = str(model) if model is not None else self.run.resolve(meta["model_path"])
        fp = fingerprint_of(model_path)
        if fp != meta["model_fingerprint"]:
            index.close()
            raise TicketsimError(
                f"the index was built with model {meta['model_path']} ({meta['model_fingerprint']}) "
                f"but the query model {model_path} has weights {fp}", file=folder / "meta.json",
                hint="rerun `ticketsim index` for the current model")
        # queries are embedded by the backend the index was built with
        encoder = encoder_for(model_path, meta["encoder"],
                              cache_dir=self.run.path / "cache", cache_embeddings=False,
                              long_text=meta.get("long_text", "truncate"),
                              lead_weight=float(meta.get("lead_weight", 0.0)),
                              reporter=self.reporter)
        thresholds = self._thresholds(meta["model_fingerprint"])

        router = Router.load(folder, meta["model_fingerprint"])
        reranker = None
        scfg: SearchConfig = self.cfg.search
        if scfg.cross_encoder is not None:
            from sentence_transformers import CrossEncoder

            reranker = CrossEncoder(str(scfg.cross_encoder), device="cpu")
        old = getattr(self, "index", None)
        # the champion's mode unless a mode was given (argument, or a fixed search.mode)
        self.champion = champion.load(self.run.path) if self.index_dir is None else None
        mode = self.default_mode or (
            self.champion["mode"] if scfg.mode == "champion" and self.champion is not None
            else scfg.reference_mode)
        self.k, self.mode, self.rerank_top = scfg.k, mode, scfg.rerank_top
        self.dedup_min_size = scfg.dedup_min_size
        self.fusion = Fusion(scfg.rrf_k, scfg.dense_weight, scfg.keyword_weight, scfg.window)
        retrievers = {m: rtv.build(index, m, self.fusion, reranker, scfg.rerank_top) for m in MODES}
        with self._swap:
            self.index, self.encoder, self.thresholds, self.reranker = (
                index, encoder, thresholds, reranker)
            self.retrievers = retrievers
            self.meta, self.model_path = meta, model_path
            self.router = router
            self.stamp = (self.run.read_stamp("index") or {}).get("finished")
        if old is not None:
            old.close()

    def _thresholds(self, fingerprint: str) -> Any:
        path = self.run.stage_path("evaluate") / FILE
        if not path.is_file():
            return None
        try:
            return Thresholds.load(path, expect_fingerprint=fingerprint)
        except TicketsimError as err:
            self.reporter.log(f"search: thresholds not used: {err}")
            return None

    def reload(self, model: str | Path | None = None) -> None:
        """Reopen the index (and model, thresholds) from the run directory; queries keep working."""
        self._load(model)

    def needs_reload(self) -> bool:
        """True when the index stage has been rebuilt since this searcher loaded it."""
        return (self.run.read_stamp("index") or {}).get("finished") != self.stamp

    # ------------------------------------------------------------------ queries
    def embed(self, texts: Sequence[str], encoder: Any = None) -> np.ndarray:
        """Query embeddings (``encoder``: the one a caller took with the rest of one index's
        state; default the current)."""
        texts = list(texts)
        encoder = encoder or self.encoder
        # an answer embeds its text for the search and again for routing: the last single
        # query is kept (with the encoder that made it, so a reload never serves a stale one)
        last = self.__dict__.get("_last_query")
        if len(texts) == 1 and last is not None and last[0] is encoder and last[1] == texts[0]:
            return last[2]
        out = encoder.encode(texts, batch_size=self.cfg.index.batch_size)
        if len(texts) == 1:
            self._last_query = (encoder, texts[0], out)
        return out

    def route(self, text: str) -> dict[str, dict[str, Any]] | None:
        """Routing suggestions (field -> value, probability) for a new ticket's text; None when
        the index has no routing heads (index.routing off, or no labelled field)."""
        with self._swap:  # one index's router, store, encoder and meta, even during a reload
            router, index, encoder, meta = self.router, self.index, self.encoder, self.meta
        if router is None:
            return None
        vec = self.embed([text], encoder)
        read = vec
        if router.lead_weight:  # routing reads with the lead (index.routing_lead_weight)
            read = add_lead(vec, [text], encoder, router.lead_weight)
        neighbours = None
        if router.neighbours_needed:  # fields voted by the nearest indexed tickets (their labels)
            near = index.dense(vec, router.candidates)
            if router.lead_weight and near:  # the index's nearest, re-scored by the lead reading
                keys = [k for k, _ in near]
                near = rescore(read, keys, self._routing_rows(router, index, encoder, meta, keys),
                               router.neighbours_needed)
            records = index.store.records([key for key, _ in near])
            neighbours = [(records[key], s) for key, s in near if key in records]
        return router.suggest(read, text, neighbours)

    def _routing_rows(self, router: Router, index: TicketIndex, encoder: Any,
                      meta: dict[str, Any], keys: list[int]) -> np.ndarray:
        """The lead reading of indexed tickets: stored by the index stage, or made now for
        tickets added or changed since (their stored vector and their text's lead)."""
        store, dim = index.store, index.dim

        def fresh(stale: list[int]) -> np.ndarray:
            found = store.texts(stale)
            texts = [found.get(k, "") for k in stale]
            # the store keeps index.dim columns: a shortened index re-embeds the whole text
            own = (store.vectors(stale, dim) if dim == int(meta.get("full_dim") or dim)
                   else encoder.encode(texts, batch_size=self.cfg.index.batch_size))
            return add_lead(own, texts, encoder, router.lead_weight, self.cfg.index.batch_size)

        return router.rows(keys, store.seqs(keys), fresh)

    def rank(self, text: str | None = None, *, ticket_id: str | None = None, k: int | None = None,
             filters: Filters | dict[str, Any] | None = None, mode: str | None = None,
             ) -> tuple[list[tuple[int, float]], np.ndarray]:
        """(key, retriever score) best first, and the query vector: what :meth:`search` shows
        and what ``evaluate`` scores (the query's own ticket excluded)."""
        k = int(k or self.k)
        mode = mode or self.mode
        if mode not in MODES:
            raise TicketsimError(f"unknown search mode '{mode}'", field="mode",
                                 hint=f"use one of {', '.join(MODES)}")
        if (text is None) == (ticket_id is None):
            raise TicketsimError("give either a query text or a ticket id")
        filters = dataclasses.replace(Filters.coerce(filters))
        index, retriever = self.index, self.retrievers[mode]
        if ticket_id is not None:
            key = index.store.key_of(ticket_id)
            if key is None:
                raise TicketsimError(f"ticket '{ticket_id}' is not in the index", field="id",
                                     hint="check the id, or add the ticket first")
            text = index.store.text(key) or ""
            query = index.store.vectors([key], index.dim)
            filters.exclude_ids = [*(filters.exclude_ids or []), str(ticket_id)]
        else:
            query = self.embed([text or ""])
        return retriever.rank(Query(text or "", query), k, filters), query

    def answer(self, text: str | None = None, *, ticket_id: str | None = None, k: int | None = None,
               filters: Filters | dict[str, Any] | None = None, mode: str | None = None,
               route: bool = True) -> SearchAnswer:
        """:meth:`search` with what the CLI, the API and the page show around the hits
        (``route``: also suggest routing for a text query)."""
        hits = self.search(text, ticket_id=ticket_id, k=k, filters=filters, mode=mode)
        notes = (self.index.store.unmatched_filters(Filters.coerce(filters))
                 if not hits and filters else [])
        return SearchAnswer(
            mode=mode or self.mode, hits=hits, notes=notes, label_meaning=self.label_meaning(),
            routing=self.route(text) if route and text is not None else None,
            champion=self.champion_sentence() if mode is None else None)

    def champion_sentence(self) -> str | None:
        """The champion's verdict in words when the default mode is the champion's (no mode
        given to the searcher, ``search.mode: champion``), else None."""
        if (self.champion is None or self.default_mode is not None
                or self.cfg.search.mode != "champion"):
            return None
        return self.champion.get("sentence")

    def search(self, text: str | None = None, *, ticket_id: str | None = None, k: int | None = None,
               filters: Filters | dict[str, Any] | None = None, mode: str | None = None) -> list[Hit]:
        """Closest tickets to ``text`` or to an indexed ticket (itself excluded)."""
        mode = mode or self.mode
        ranked, query = self.rank(text, ticket_id=ticket_id, k=k, filters=filters, mode=mode)
        index = self.index
        keys = [key for key, _ in ranked]
        # score is the cosine in every mode, so probability and label mean the same everywhere
        q = query[0][: index.dim]
        q = q / (np.linalg.norm(q) or 1.0)
        cos = dict(zip(keys, (index.store.vectors(keys, index.dim) @ q).tolist(), strict=True))
        records = index.store.records(keys)
        reranked = self.reranker is not None
        hits = []
        for key, s in ranked:
            if key not in records:
                continue
            h = self._hit(records[key], cos[key], s if mode == "keyword" and not reranked else None,
                          s if mode == "hybrid" and not reranked else None)
            if reranked and np.isfinite(s):
                h.rerank = float(s)
            hits.append(h)
        return hits

    def _hit(self, rec: dict[str, Any], score: float, keyword: float | None,
             fused: float | None) -> Hit:
        th = self.thresholds
        return Hit(
            id=str(rec["id"]), score=float(score),
            probability=th.probability(score) if th else None,
            label=th.label(score) if th else None,
            short_description=str(rec.get("short_description") or ""),
            category=str(rec.get("category") or ""), subcategory=str(rec.get("subcategory") or ""),
            created=rec.get("created"), keyword=keyword, fused=fused,
            extra={c: rec.get(c) for c in rec if c not in FIXED})

    def get_ticket(self, ticket_id: str) -> dict[str, Any] | None:
        """The whole stored record of a ticket (with its text), or None."""
        key = self.index.store.key_of(ticket_id)
        if key is None:
            return None
        rec = self.index.store.records([key])[key]
        rec["text"] = self.index.store.text(key)
        return rec

    # ------------------------------------------------------------------ updates
    def ticket_text(self, rec: dict[str, Any]) -> str:
        """A new ticket's text: its ``text`` if given, else the run's text template."""
        if rec.get("text"):
            return str(rec["text"])
        template = self.meta.get("text_template") or "{short_description}. {description}"
        fields = {"short_description": "", "description": ""}
        fields.update({k: "" if v is None else v for k, v in rec.items()})
        try:
            return template.format(**fields).strip()
        except (KeyError, IndexError) as exc:
            raise TicketsimError(f"ticket '{short(str(rec.get('id')))}' lacks field {exc} of the "
                                 "text template", field=str(exc).strip("'"),
                                 hint="send that field in 'extra', or send 'text'") from None
        except (ValueError, AttributeError, TypeError) as exc:
            raise TicketsimError(f"the index's text template {template!r} cannot render ticket "
                                 f"'{short(str(rec.get('id')))}': {exc}", field="text",
                                 hint="send 'text', or rebuild the index with a plain template") from None

    def prepare(self, tickets: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Validated copies of ``tickets`` with their text; raises before anything is changed."""
        recs = []
        for i, t in enumerate(tickets):
            if not str(t.get("id") or "").strip():
                raise TicketsimError("ticket without an id", row=i, field="id")
            rec = {k: v for k, v in t.items()}
            rec["id"] = str(rec["id"]).strip()
            problem = id_problem(rec["id"])
            if problem:
                raise TicketsimError(f"ticket id {problem}", row=i, field="id")
            if rec.get("created") is not None and not isinstance(rec["created"], str):
                rec["created"] = rec["created"].isoformat()
            rec["text"] = self.ticket_text(rec)
            recs.append(rec)
        return recs

    def upsert(self, tickets: Sequence[dict[str, Any]]) -> int:
        """Add or update tickets (``id`` required); searchable, vector and keyword side, on return."""
        recs = self.prepare(tickets)
        if not recs:
            return 0
        vectors = self.embed([r["text"] for r in recs])
        self.index.upsert(recs, vectors)
        return len(recs)

    def delete(self, ticket_ids: Sequence[str]) -> int:
        """Delete tickets by id; returns how many were in the index."""
        return self.index.delete([str(t) for t in ticket_ids])

    def stats(self) -> dict[str, Any]:
        m = self.meta
        return {"tickets": len(self.index), "backend": m["backend"], "precision": m["precision"],
                "dim": m["dim"], "model": m["model_path"], "model_fingerprint": m["model_fingerprint"],
                "encoder": m["encoder"],
                "thresholds": self.thresholds is not None, "cross_encoder": self.reranker is not None,
                "labels": self.label_stats(), "mode": self.mode,
                "champion": self.champion.get("sentence") if self.champion else None,
                "routing": self.router.fields if self.router is not None else []}

    def label_meaning(self) -> dict[str, str] | None:
        """What each label is worth, in words (measured on held-out pairs); None without thresholds."""
        return self.thresholds.meaning() if self.thresholds is not None else None

    def label_stats(self) -> dict[str, dict[str, Any]] | None:
        """Per label: cut, measured precision / recall (None when not measured) and the words."""
        th = self.thresholds
        if th is None:
            return None
        cuts = {"duplicate": th.duplicate, "related": th.related, "unrelated": None}
        out = {}
        for lab, words in th.meaning().items():
            st = th.labels.get(lab) or {}
            measured = bool(st.get("measured"))
            out[lab] = {"min_score": cuts[lab], "measured": measured,
                        "precision": st.get("precision") if measured else None,
                        "recall": st.get("recall") if measured else None, "words": words}
        return out

    def flush(self) -> None:
        self.index.flush()

    def close(self) -> None:
        self.index.close()


def search_run(cfg: Config, run: RunDir, text: str | None = None, ticket_id: str | None = None,
               k: int = 10, filters: Filters | dict[str, Any] | None = None,
               mode: str | None = None, reporter: Reporter = NULL) -> list[dict[str, Any]]:
    """One-shot search over a run directory (the CLI's ``search``): hits as flat dicts."""
    searcher = Searcher(run, cfg, reporter=reporter)
    try:
        return [h.to_dict() for h in searcher.search(text, ticket_id=ticket_id, k=k,
                                                     filters=filters, mode=mode)]
    finally:
        searcher.close()
