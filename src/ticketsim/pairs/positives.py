"""Positive pairs: known links, same category+subcategory with keyword overlap, and views.

- **links**: label-1 links (or links whose score reaches ``link_min_score``), optionally
  closed transitively inside a linked cluster. The strongest signal; always first.
- **category**: two tickets of one category+subcategory whose ``overlap_field`` share at
  least ``min_keyword_overlap`` keywords, so pairs are textually related, not only
  topically. Capped per anchor and per category so one big category cannot swamp training.
- **views**: self-supervised, one ticket's short description vs its description; for
  links-only data (bug trackers) where a few hundred links are all there is.
Every source works on one ticket subset (the training tickets, or the validation
tickets), so no held-out ticket can enter a pair. :func:`finalise` removes self-pairs
(identical after normalisation) and duplicates in either order.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pandas as pd

from ticketsim.config import PositivesConfig
from ticketsim.pairs.text import keywords, normalise

PAIR_COLUMNS = ["anchor_id", "positive_id", "anchor", "positive", "source", "category", "score"]


def positive_links(links: pd.DataFrame, cfg: PositivesConfig) -> pd.DataFrame:
    """The links that count as positives (label 1, or score >= ``link_min_score`` when set)."""
    if links.empty:
        return links.copy()
    label = links["label"].fillna(1).astype(int) == 1
    if cfg.link_min_score is not None and "score" in links.columns:
        score = pd.to_numeric(links["score"], errors="coerce")
        keep = score.ge(cfg.link_min_score).where(score.notna(), label)
    else:
        keep = label
    return links[keep.astype(bool)].reset_index(drop=True)


def negative_links(links: pd.DataFrame, cfg: PositivesConfig) -> pd.DataFrame:
    """Labelled negative links (label 0) that are not positives under the score rule."""
    if links.empty:
        return links.copy()
    pos = positive_links(links, cfg)
    pos_keys = set(zip(pos["a"].astype(str), pos["b"].astype(str), strict=True))
    neg = links[links["label"].fillna(1).astype(int) == 0]
    keys = list(zip(neg["a"].astype(str), neg["b"].astype(str), strict=True))
    # A boolean array, not a list: ``df[[]]`` (no label-0 links) would select zero columns.
    keep = np.array([k not in pos_keys for k in keys], dtype=bool)
    return neg.loc[keep].reset_index(drop=True)


def _row(t: pd.DataFrame, a: str, b: str, source: str, score: float = 1.0) -> dict:
    ra, rb = t.loc[a], t.loc[b]
    return {"anchor_id": a, "positive_id": b, "anchor": ra["text"], "positive": rb["text"],
            "source": source, "category": _cat(ra), "score": float(score)}


def _cat(row: pd.Series | dict) -> str:
    parts = [_text(row.get(f)) for f in CATEGORY_FIELDS]
    return "/".join(p for p in parts if p)


CATEGORY_FIELDS = ("category", "subcategory")


def _text(value: object) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def category_keys(tickets: pd.DataFrame) -> np.ndarray:
    """One grouping key per ticket from the category fields present ("" when it has none).

    Fields are joined with "/" only between non-empty values, so an export with only a
    category, only a subcategory, or both groups tickets the same way (a key ending in a
    separator never matched another ticket's key: issue 17).
    """
    cols = [tickets[f].map(_text) if f in tickets.columns
            else pd.Series("", index=tickets.index) for f in CATEGORY_FIELDS]
    return np.array(["/".join(p for p in parts if p) for parts in zip(*cols, strict=True)]
                    if len(tickets) else [], dtype=object)


def link_pairs(
    tickets: pd.DataFrame, positive: pd.DataFrame, allowed: set[str], cfg: PositivesConfig,
    seed: int,
) -> list[dict]:
    """Pairs from known positive links whose two ends are both in ``allowed``."""
    t = tickets.set_index("id", drop=False)
    out: list[dict] = []
    adj: dict[str, set[str]] = defaultdict(set)
    for rec in positive.to_dict("records"):
        a, b = str(rec["a"]), str(rec["b"])
        if a in allowed and b in allowed:
            s = rec.get("score")
            out.append(_row(t, a, b, "link", 1.0 if s is None or pd.isna(s) else float(s)))
            adj[a].add(b)
            adj[b].add(a)
    if cfg.transitive:
        rng = np.random.default_rng(seed)
        seen: set[str] = set()
        for start in sorted(adj):
            if start in seen:
                continue
            comp, stack = [], [start]
            seen.add(start)
            while stack:
                x = stack.pop()
                comp.append(x)
                for y in sorted(adj[x]):
                    if y not in seen:
                        seen.add(y)
                        stack.append(y)
            extra: dict[str, int] = defaultdict(int)
            candidates = [(a, b) for a, b in itertools.combinations(sorted(comp), 2)
                          if b not in adj[a]]
            for i in rng.permutation(len(candidates)):
                a, b = candidates[int(i)]
                if extra[a] < cfg.max_per_anchor and extra[b] < cfg.max_per_anchor:
                    out.append(_row(t, a, b, "link-transitive"))
                    extra[a] += 1
                    extra[b] += 1
    return out


def category_pairs(
    tickets: pd.DataFrame, allowed: set[str], cfg: PositivesConfig, seed: int
) -> list[dict]:
    """Same category+subcategory pairs with enough keyword overlap, capped per anchor/category."""
    from scipy import sparse

    sub = tickets[tickets["id"].astype(str).isin(allowed)]
    # The key is whichever category fields the export has (category, subcategory or both):
    # a ticket with neither is left out; one with only a subcategory still groups by it.
    keys_all = category_keys(sub)
    sub, keys = sub[keys_all != ""], keys_all[keys_all != ""]
    if sub.empty:
        return []
    rng = np.random.default_rng(seed)
    field = cfg.overlap_field
    kws = [keywords(x, cfg.stop_words) for x in sub[field].fillna("").astype(str)]
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, kw in enumerate(kws):
        for w in kw:
            rows.append(i)
            cols.append(vocab.setdefault(w, len(vocab)))
    x = sparse.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)),
                          shape=(len(kws), max(len(vocab), 1)))
    ids = sub["id"].astype(str).to_numpy()
    # text and category key by id, looked up once: a DataFrame .loc per pair took 80 % of
    # the stage at 12,000 tickets
    text_of = dict(zip(ids, sub["text"].tolist(), strict=True))
    cat_of = dict(zip(ids, [_cat(r) for r in sub.to_dict("records")], strict=True))

    def row(a: str, b: str) -> dict:
        return {"anchor_id": a, "positive_id": b, "anchor": text_of[a], "positive": text_of[b],
                "source": "category", "category": cat_of[a], "score": 1.0}

    out: list[dict] = []
    for key in sorted(set(keys)):
        members = np.flatnonzero(keys == key)
        if len(members) < 2:
            continue
        xm = x[members]
        xt = xm.T.tocsc()
        chosen: list[tuple[int, int, int]] = []  # (anchor, positive, its rank for the anchor)
        # row blocks: a dense members x members overlap matrix is GBs for a 15k-ticket category
        need = max(cfg.min_keyword_overlap, 0)
        for start in range(0, len(members), CHUNK):
            block = (xm[start:start + CHUNK] @ xt).toarray().astype(np.float32)
            diag = np.arange(block.shape[0])
            block[diag, start + diag] = -1  # never itself
            # most overlapping first, ties in random order (overlaps are whole numbers, so
            # half a random number breaks ties only); not allowed: +inf
            cost = np.where(block >= need, -block + 0.5 * rng.random(block.shape, np.float32),
                            np.inf).astype(np.float32)
            top = min(cfg.max_per_anchor, cost.shape[1])
            part = np.argpartition(cost, top - 1, axis=1)[:, :top] if top < cost.shape[1] \
                else np.broadcast_to(np.arange(cost.shape[1]), (len(diag), cost.shape[1]))
            part_key = np.take_along_axis(cost, part, axis=1)
            order = np.argsort(part_key, axis=1, kind="stable")
            best = np.take_along_axis(part, order, axis=1)
            best_key = np.take_along_axis(part_key, order, axis=1)
            for r in range(len(diag)):
                for rank in range(top):
                    if not np.isfinite(best_key[r, rank]):
                        break
                    chosen.append((start + r, int(best[r, rank]), rank))
        if len(chosen) > cfg.max_per_category:
            chosen = [chosen[k] for k in sorted(informative_first(
                [c[2] for c in chosen], None, cfg.max_per_category, rng))]
        for i, j, rank in chosen:
            out.append({**row(ids[members[i]], ids[members[j]]), RANK: rank})
    return out


CHUNK = 2048  # anchors whose overlap rows are computed at once
RANK = "_rank"  # a pair's position among its anchor's positives (0: the anchor's best)


def informative_first(ranks: list[int], groups: list[str] | None, n: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Indices of the ``n`` pairs a capped budget keeps: every anchor's best positive before
    any anchor's second (more tickets seen beats more pairs of the same ticket, and with
    in-batch negatives every extra anchor is another negative for the rest), and within a
    rank the groups (categories) take turns, so a rare category is not crowded out by a big
    one. Random among equals. Replaces a random cap, which spends the budget on the second
    and third positives of a few anchors as often as on new tickets."""
    ranks_a = np.asarray(ranks, dtype=np.int64)
    turn = np.zeros(len(ranks_a), dtype=np.int64)
    if groups is not None:
        seen: dict[tuple[int, str], int] = {}
        for k in rng.permutation(len(ranks_a)):
            g = (int(ranks_a[k]), groups[k])
            turn[k] = seen.get(g, 0)
            seen[g] = turn[k] + 1
    order = np.lexsort((rng.random(len(ranks_a)), turn, ranks_a))
    return np.sort(order[:n])


def view_pairs(tickets: pd.DataFrame, allowed: set[str]) -> list[dict]:
    """Self-supervised positives: a ticket's short description vs its description."""
    sub = tickets[tickets["id"].astype(str).isin(allowed)]
    out = []
    for rec in sub.to_dict("records"):
        sd, desc = str(rec.get("short_description") or ""), str(rec.get("description") or "")
        if sd.strip() and desc.strip():
            out.append({"anchor_id": str(rec["id"]), "positive_id": str(rec["id"]),
                        "anchor": sd, "positive": desc, "source": "view",
                        "category": _cat(pd.Series(rec)), "score": 1.0})
    return out


def wants_views(tickets: pd.DataFrame, cfg: PositivesConfig) -> bool:
    """Views are on when asked, or (auto) when the tickets carry no categories."""
    if cfg.views == "always":
        return True
    if cfg.views == "never":
        return False
    return bool((category_keys(tickets) == "").all())


def finalise(pairs: list[dict], max_total: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Drop self-pairs and duplicates (either order), keeping the first (links before the rest)."""
    seen: dict[frozenset[str], int] = {}
    keep: list[dict] = []
    for p in pairs:
        a, b = normalise(p["anchor"]), normalise(p["positive"])
        if not a or not b or a == b:
            continue
        key = frozenset((a, b))
        if key in seen:  # B's best positive A, kept as A's second: it is still someone's best
            first = keep[seen[key]]
            if RANK in p:
                first[RANK] = min(int(first.get(RANK, p[RANK])), int(p[RANK]))
            continue
        seen[key] = len(keep)
        keep.append(dict(p))
    df = pd.DataFrame(keep, columns=PAIR_COLUMNS)
    if max_total is not None and len(df) > max_total:
        # links are scarce and precious: kept first; the rest by informative_first
        rng = np.random.default_rng(seed)
        is_link = df["source"].str.startswith("link").to_numpy()
        n_link = int(is_link.sum())
        others = np.flatnonzero(~is_link)
        room = max(max_total - n_link, 0)
        ranks = [int(keep[k].get(RANK, 0)) for k in others]
        groups = [f"{keep[k]['source']}|{keep[k].get('category', '')}" for k in others]
        keep_idx = np.concatenate([np.flatnonzero(is_link)[:max_total],
                                   others[informative_first(ranks, groups, room, rng)]])
        df = df.iloc[np.sort(keep_idx)]
    return df.reset_index(drop=True)


def build_positives(
    tickets: pd.DataFrame, positive: pd.DataFrame, allowed: set[str], cfg: PositivesConfig,
    seed: int,
) -> pd.DataFrame:
    """All positive pairs among ``allowed`` tickets, cleaned and capped."""
    pairs: list[dict] = []
    if cfg.links:
        pairs += link_pairs(tickets, positive, allowed, cfg, seed)
    if cfg.category:
        pairs += category_pairs(tickets, allowed, cfg, seed)
    if wants_views(tickets, cfg):
        pairs += view_pairs(tickets, allowed)
    return finalise(pairs, cfg.max_total, seed)
