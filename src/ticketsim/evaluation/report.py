"""The readable evaluation report: ``report.md``, a self-contained ``report.html`` and PNG plots.

Built only from the typed :class:`~ticketsim.evaluation.result.EvaluationResult` (the
stage's ``summary.json``) and ``details.json``, so ``ticketsim report RUN_DIR`` regenerates
it without models. Each table is built once (header and rows) and written as markdown
and as HTML. The HTML embeds its
images as data URIs (it opens with no network), escapes every ticket text and
carries a Content-Security-Policy that forbids scripts, so a ticket containing
``<script>`` is shown as text and never runs.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ticketsim.errors import TicketsimError
from ticketsim.evaluation.result import EvaluationResult
from ticketsim.progress import NULL, Reporter
from ticketsim.rundir import RunDir, atomic_write_bytes, atomic_write_text

Table = tuple[list[str], list[list[str]]]  # header, rows of cells (plain text)


def verdict_lines(result: EvaluationResult) -> list[str]:
    """The champion in plain words, and why and at what cost evaluation cross-fitted."""
    out = []
    if result.champion:
        out.append(str(result.champion["sentence"]))
    cf = result.crossfit
    if cf:
        out.append(f"cross-fitted: {cf['why']}; {cf['cost']}")
    return out


def headline(result: EvaluationResult) -> str:
    """One sentence: primary metric of the main system, its gain over the best baseline, the CI."""
    pm, systems = result.primary_metric, result.systems
    ci = result.ci or {}
    base = ci.get("baseline")
    main = result.primary_system
    if not main:
        return f"{pm}: no system was scored"
    diff = (ci.get("vs_baseline") or {}).get(main)
    if not base or diff is None:
        return f"{pm} of {main}: {systems[main][pm]:.3f} (no baseline to compare with)"
    if not diff["significant"]:
        verdict = "inside the noise: not a demonstrated difference"
    elif diff["diff"] > 0:
        verdict = "a gain outside the noise"
    else:
        verdict = "worse than the baseline, outside the noise"
    return (f"{main} {pm} = {systems[main][pm]:.3f} vs best baseline {base} "
            f"{systems[base][pm]:.3f}: difference {diff['diff']:+.3f} "
            f"({100 * diff['confidence']:.0f} % CI {diff['low']:+.3f} to {diff['high']:+.3f}, "
            f"{verdict})")


def label_lines(result: EvaluationResult) -> tuple[str | None, list[str]]:
    """The model whose thresholds are served and each label's meaning in words (report, terminal)."""
    model = result.thresholds_model
    if not model:
        return None, []
    labels = (result.duplicate.get(model) or {}).get("labels") or {}
    return model, [v["words"] for v in labels.values() if v.get("words")]


def cut(v: float) -> str:
    """A cosine cut for people: "never" when no pair can reach it (no label given)."""
    return "never" if v > 1.0 else f"{v:.3f}"


def _pct(v: Any) -> str:
    return "–" if v is None else f"{v:.2f}"


def ordered_metrics(result: EvaluationResult) -> list[str]:
    """The primary metric first, then the others in their usual order."""
    pm = result.primary_metric
    names = result.metrics or list(next(iter(result.systems.values())))
    return [pm] + [m for m in names if m != pm]


def queries_line(result: EvaluationResult) -> str:
    """How many queries, against how many candidates, and which held-out tickets were skipped."""
    return (f"{result.n_queries} queries (held-out tickets with a known link) against "
            f"{result.n_candidates} candidates each (the query itself excluded); "
            f"{result.skipped_sentence}"
            + (". Time-aware: each query sees only older tickets." if result.time_aware else "."))


# ------------------------------------------------------------------------ tables (built once)
def systems_table(result: EvaluationResult) -> Table:
    """Every system's metrics, the primary metric's interval and its difference to the baseline."""
    pm, names = result.primary_metric, ordered_metrics(result)
    ci = result.ci or {}
    rows = []
    for s, vals in result.systems.items():
        c = (ci.get("per_system") or {}).get(s) or {}
        dv = (ci.get("vs_baseline") or {}).get(s)
        rows.append([s, *(_fmt(vals[m]) for m in names),
                     f"[{c.get('low', float('nan')):.3f}, {c.get('high', float('nan')):.3f}]",
                     paired(dv)])
    return ["system", *names, f"{pm} CI", f"Δ vs {ci.get('baseline')}"], rows


def threshold_table(result: EvaluationResult) -> Table:
    """The duplicate decision of each model: AP, the candidate thresholds, the cuts served."""
    rows = []
    for s, dd in result.duplicate.items():
        if "error" in dd:
            rows.append([s, str(dd["error"]), "", "", "", "", ""])
            continue
        tp = dd["at_target_precision"]
        tpt = (f"{tp['threshold']:.3f} ({tp['recall']:.2f})" if tp["reached"]
               else f"P={tp['target']} not reached")
        rows.append([s, f"{dd['average_precision']:.3f}",
                     f"{dd['best_f1']['threshold']:.3f} ({dd['best_f1']['f1']:.2f})", tpt,
                     cut(dd["duplicate_threshold"]), f"{dd['related_threshold']:.3f}",
                     f"{dd['calibration']['a']:.2f}, {dd['calibration']['b']:.2f}"])
    return ["model", "AP", "best-F1 threshold (F1)", "target-precision threshold (recall)",
            "duplicate", "related", "Platt a, b"], rows


def labels_table(result: EvaluationResult) -> Table:
    """Each label's measured precision and recall, per model."""
    rows = [[s, lab, _pct(st.get("precision")), _pct(st.get("recall")), str(st.get("labelled")),
             "yes" if st.get("measured") else "no: " + str(st.get("why_not"))]
            for s, dd in result.duplicate.items() for lab, st in (dd.get("labels") or {}).items()]
    return ["model", "label", "precision", "recall", "labelled", "measured"], rows


def paired(dv: dict[str, Any] | None) -> str:
    """A paired difference with its interval, '+0.012 [-0.030, +0.050]' ('' without one)."""
    return f"{dv['diff']:+.3f} [{dv['low']:+.3f}, {dv['high']:+.3f}]" if dv else ""


def served_routing(result: EvaluationResult) -> str | None:
    """The routing row search serves: the suggestion of the champion's model as the index
    reads it (``finetuned+lead`` when the champion reads with the lead view)."""
    champ = result.champion or {}
    model = (result.modes.get(str(champ.get("system")), {}).get("model") or champ.get("model"))
    return f"{model} (suggestion)" if model else None


def routing_lines(result: EvaluationResult) -> list[str]:
    """One line per field of each model's routing suggestion against the base model's, with
    the paired interval (does fine-tuning cost routing beyond the noise?); the one search
    serves is marked."""
    out = []
    served = served_routing(result)
    for system, fields in result.routing.items():
        for field, v in fields.items():
            dv = v.get("vs_base")
            if not dv or not system.endswith(" (suggestion)"):
                continue
            base = result.routing[dv["base"]][field]["accuracy"]
            verdict = ("within the noise" if not dv["significant"] else
                       "better beyond the noise" if dv["diff"] > 0 else "worse beyond the noise")
            mark = " (served)" if system == served else ""
            out.append(f"routing suggestion, {system.removesuffix(' (suggestion)')}{mark} vs base: "
                       f"{field} accuracy {v['accuracy']:.3f} vs {base:.3f} ({dv['diff']:+.3f}, "
                       f"{100 * dv['confidence']:.0f} % CI {dv['low']:+.3f} to {dv['high']:+.3f}: "
                       f"{verdict})")
    return out


def routing_table(result: EvaluationResult) -> Table:
    """Routing accuracy of held-out tickets per system and field, and the paired difference in
    accuracy to the base model's row of the same kind (vote or suggestion)."""
    rows = [[s, f, f"{v['accuracy']:.3f}", f"{v['macro_f1']:.3f}", str(v["n"]),
             str(v.get("classes", "")), reads(v.get("lead_weight")), paired(v.get("vs_base"))]
            for s, fields in result.routing.items() for f, v in fields.items()]
    conf = next((v["vs_base"]["confidence"] for fields in result.routing.values()
                 for v in fields.values() if v.get("vs_base")), 0.95)
    return ["system", "field", "accuracy", "macro-F1", "n", "classes", "router reads",
            f"Δ accuracy vs base ({100 * conf:.0f} % CI)"], rows


def reads(lead_weight: float | list[float] | None) -> str:
    """How a suggestion row's router read the tickets (index.routing_lead_weight): as the
    index does, or with the lead (per cross-fitting fold when the folds chose differently)."""
    if lead_weight is None:
        return ""
    if isinstance(lead_weight, list):
        with_lead = [w for w in lead_weight if w]
        return f"with the lead ({with_lead[0]:g}) in {len(with_lead)} of {len(lead_weight)} folds"
    return f"with the lead ({lead_weight:g})" if lead_weight else "as indexed"


def md_table(table: Table) -> list[str]:
    header, rows = table
    return ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(_md(c) for c in row) + " |" for row in rows)]


def _html_table(table: Table) -> str:
    e = html.escape
    header, rows = table
    return ("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
            + "</table>")


LABELS_INTRO = ("Each label's precision and recall were measured on held-out tickets' top "
                "results and known links, with thresholds fitted on other folds of queries "
                "(cross-fitted):")


# ------------------------------------------------------------------------ plots
def _fig_bytes(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def make_plots(result: EvaluationResult, details: dict[str, Any]) -> dict[str, bytes]:
    """PNG bytes per plot name; a plot without data is left out."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out: dict[str, bytes] = {}
    systems = list(result.systems)
    names = ordered_metrics(result)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(names) * max(1, len(systems)) / 2), 3.6))
    width = 0.8 / max(1, len(systems))
    x = np.arange(len(names))
    for i, s in enumerate(systems):
        ax.bar(x + i * width, [result.systems[s][m] for m in names], width, label=s)
    ax.set_xticks(x + width * (len(systems) - 1) / 2, names)
    ax.set_ylim(0, 1)
    ax.set_title("retrieval on held-out links")
    ax.legend(fontsize=8)
    out["metrics"] = _fig_bytes(fig)

    loss = details.get("loss_curve") or []
    if loss:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot([p[0] for p in loss], [p[1] for p in loss])
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        ax.set_title("training loss")
        out["loss"] = _fig_bytes(fig)

    curves = {n: c for n, c in (details.get("decision_curves") or {}).items()
              if c.get("scores_linked")}
    if curves:
        fig, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3), squeeze=False)
        for ax, (n, c) in zip(axes[0], curves.items(), strict=True):
            bins = np.linspace(-0.2, 1.0, 40)
            ax.hist(c["scores_unlinked"], bins=bins, alpha=0.6, density=True, label="unlinked")
            ax.hist(c["scores_linked"], bins=bins, alpha=0.6, density=True, label="linked")
            ax.set_title(f"{n}: cosine similarity")
            ax.legend(fontsize=8)
        out["similarity"] = _fig_bytes(fig)

        fig, ax = plt.subplots(figsize=(5, 4))
        for n, c in curves.items():
            if not c.get("pr_curve"):
                continue
            ax.plot(c["pr_curve"]["recall"], c["pr_curve"]["precision"], label=n)
            dd = result.duplicate.get(n) or {}
            bf = dd.get("best_f1")
            if bf:
                ax.scatter([bf["recall"]], [bf["precision"]], marker="o", zorder=3)
                ax.annotate(f"best F1 @ {bf['threshold']:.2f}", (bf["recall"], bf["precision"]),
                            fontsize=7)
            tp = dd.get("at_target_precision") or {}
            if tp.get("reached"):
                ax.scatter([tp["recall"]], [tp["precision"]], marker="^", zorder=3)
                ax.annotate(f"P>={tp['target']:.2f} @ {tp['threshold']:.2f}",
                            (tp["recall"], tp["precision"]), fontsize=7)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_title("duplicate decision")
        ax.legend(fontsize=8)
        out["precision_recall"] = _fig_bytes(fig)

    tl = details.get("token_lengths") or {}
    if tl.get("lengths"):
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(tl["lengths"], bins=40)
        if tl.get("max_seq_length"):
            ax.axvline(tl["max_seq_length"], color="red", linestyle="--",
                       label=f"max_seq_length {tl['max_seq_length']}")
            ax.legend(fontsize=8)
        ax.set_xlabel("tokens per ticket")
        ax.set_title("token lengths")
        out["token_lengths"] = _fig_bytes(fig)
    return out


# ------------------------------------------------------------------------ text
def _md(text: Any) -> str:
    """Ticket text safe inside a markdown table cell."""
    return (html.escape(str(text)).replace("|", "\\|").replace("\n", " ")
            .replace("`", "\\`"))


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def render_markdown(result: EvaluationResult, details: dict[str, Any], plots: list[str]) -> str:
    pm = result.primary_metric
    lines = ["# ticketsim evaluation", "", *(f"**{v}**\n" for v in verdict_lines(result)),
             f"**{headline(result)}**", "", queries_line(result), ""]
    for note in result.notes:
        lines.append(f"- note: {note}")
    lines += ["", "## Systems", "", *md_table(systems_table(result))]
    if result.folds:
        f = result.folds
        lines += ["", f"### Spread over {f['k']} cluster folds ({pm})", "",
                  "| system | mean | std |", "|---|---|---|"]
        for s, v in f["systems"].items():
            lines.append(f"| {s} | {v[pm]['mean']:.3f} | {v[pm]['std']:.3f} |")
    if result.duplicate:
        lines += ["", "## Duplicate decision", "", *md_table(threshold_table(result))]
        if result.thresholds_model:
            lines.append(f"\nthresholds.json holds the thresholds of **{result.thresholds_model}**.")
        model, words = label_lines(result)
        if words:
            lines += ["", "## What the labels mean", "",
                      f"Search results are labelled with the thresholds of **{model}**. "
                      + LABELS_INTRO, ""]
            lines += [f"- {_md(w)}" for w in words]
            lines += ["", *md_table(labels_table(result))]
    if result.routing:
        lines += ["", "## Routing on held-out tickets (kNN vote; '(suggestion)': the router "
                  "search serves, index.routing_features and routing_lead_weight)", "", *md_table(routing_table(result))]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p}.png)" for p in plots]
    misses = details.get("worst_misses") or []
    if misses:
        lines += ["", f"## Worst misses ({details.get('worst_misses_system')})", ""]
        for m in misses:
            lines.append(f"- **{_md(m['query_id'])}** {_md(m['query'])}  \n  true link "
                         f"**{_md(m['true_id'])}** at rank {m['rank']}: {_md(m['true_text'])}")
            for a in m["above"]:
                lines.append(f"  - above it: {_md(a['id'])} ({a['score']:.3f}) {_md(a['text'])}")
    return "\n".join(lines) + "\n"


_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
font-size:14px}th{background:#f3f3f3}.head{font-size:1.15em;background:#eef6ee;padding:.6em}
.noise{background:#fbeeee}img{max-width:100%;display:block;margin:1em 0}.miss{margin:1em 0}
.above{color:#555;margin-left:2em}"""


def render_html(result: EvaluationResult, details: dict[str, Any], plots: dict[str, bytes]) -> str:
    e = html.escape
    main_diff = ((result.ci or {}).get("vs_baseline") or {}).get(result.primary_system)
    cls = "head" if main_diff and main_diff["significant"] else "head noise"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>ticketsim evaluation</title><style>{_CSS}</style></head><body>",
        "<h1>ticketsim evaluation</h1>",
        *(f"<p class='head'>{e(v)}</p>" for v in verdict_lines(result)),
        f"<p class='{cls}'>{e(headline(result))}</p>",
        f"<p>{e(queries_line(result))}</p>",
    ]
    for note in result.notes:
        parts.append(f"<p><em>note:</em> {e(note)}</p>")
    parts.append("<h2>Systems</h2>" + _html_table(systems_table(result)))
    if result.duplicate:
        parts.append("<h2>Duplicate decision</h2>" + _html_table(threshold_table(result)))
        model, words = label_lines(result)
        if words:
            parts.append(f"<h2>What the labels mean</h2><p>Search results are labelled with the "
                         f"thresholds of <b>{e(str(model))}</b>. {e(LABELS_INTRO)}</p><ul>"
                         + "".join(f"<li>{e(w)}</li>" for w in words) + "</ul>")
            parts.append(_html_table(labels_table(result)))
    if result.routing:
        parts.append("<h2>Routing</h2>" + _html_table(routing_table(result)))
    if plots:
        parts.append("<h2>Plots</h2>")
        for name, png in plots.items():
            data = base64.b64encode(png).decode("ascii")
            parts.append(f"<h3>{e(name.replace('_', ' '))}</h3>"
                         f"<img alt='{e(name)}' src='data:image/png;base64,{data}'>")
    misses = details.get("worst_misses") or []
    if misses:
        parts.append(f"<h2>Worst misses ({e(str(details.get('worst_misses_system')))})</h2>")
        for m in misses:
            parts.append(f"<div class='miss'><b>{e(m['query_id'])}</b> {e(m['query'])}<br>"
                         f"true link <b>{e(m['true_id'])}</b> at rank {m['rank']}: "
                         f"{e(m['true_text'])}")
            for a in m["above"]:
                parts.append(f"<div class='above'>above it: {e(a['id'])} ({a['score']:.3f}) "
                             f"{e(a['text'])}</div>")
            parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(folder: Path, result: EvaluationResult, details: dict[str, Any],
                 reporter: Reporter = NULL) -> list[Path]:
    """Write the PNGs, report.md and report.html into ``folder``; returns the written paths."""
    plots = make_plots(result, details)
    written = []
    for name, png in plots.items():
        atomic_write_bytes(folder / f"{name}.png", png)
        written.append(folder / f"{name}.png")
    atomic_write_text(folder / "report.md", render_markdown(result, details, list(plots)))
    atomic_write_text(folder / "report.html", render_html(result, details, plots))
    written += [folder / "report.md", folder / "report.html"]
    return written


def regenerate_report(run_dir: str | Path, reporter: Reporter = NULL) -> Path:
    """Rebuild the report of a run from its evaluate folder (no model needed)."""
    run = RunDir(run_dir)
    result = EvaluationResult.read(run, "the report")
    folder = run.stage_path("evaluate")
    if result.cold_start:
        raise TicketsimError("a cold-start evaluation has no report to regenerate (no held-out "
                             "link was measured)", file=folder / "report.md",
                             hint="add links or label pairs, then rerun `ticketsim evaluate`")
    try:
        details_path = folder / "details.json"
        details = json.loads(details_path.read_text()) if details_path.is_file() else {}
    except (OSError, json.JSONDecodeError) as exc:
        raise TicketsimError(f"cannot read evaluation results: {exc}", file=folder,
                             hint=f"rerun `ticketsim evaluate --run-dir {Path(run_dir)} --force`") from None
    write_report(folder, result, details, reporter)
    reporter.log(f"report: {folder / 'report.html'}")
    return folder / "report.html"
