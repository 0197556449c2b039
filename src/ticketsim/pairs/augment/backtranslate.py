"""Back-translation: translate to a pivot language and back with two local model folders.

Pick it when paraphrases should keep the meaning but change wording and word order more
than synonym swaps do (opus-mt pairs such as en-de / de-en are small enough for CPU).
Needs two sequence-to-sequence model folders (``forward_model``, ``backward_model``) that
``transformers`` loads offline; opus-mt folders also need ``sentencepiece``. Texts go
through in batches of ``batch_size``; the generation is greedy, so it is deterministic.
"""

from __future__ import annotations

from pathlib import Path

from ticketsim.config import BackTranslateAugmentConfig
from ticketsim.errors import TicketsimError
from ticketsim.progress import NULL, Reporter


class Seq2Seq:
    """A local translation model folder (any ``AutoModelForSeq2SeqLM``), batched greedy generation."""

    def __init__(self, folder: Path | None, field: str, max_length: int) -> None:
        if folder is None or not Path(folder).is_dir():
            raise TicketsimError(
                f"translation model folder {folder} not found", field=f"pairs.augment.backtranslate.{field}",
                hint="save e.g. Helsinki-NLP/opus-mt-en-de and opus-mt-de-en on a machine with "
                "internet and give their folders",
            )
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModelForSeq2SeqLM.from_pretrained(str(folder)).eval()
        self.max_length = max_length

    def __call__(self, texts: list[str]) -> list[str]:
        import torch

        enc = self.tokenizer(texts, return_tensors="pt", padding=True, truncation=True,
                             max_length=self.max_length)
        enc.pop("token_type_ids", None)
        with torch.no_grad():
            out = self.model.generate(**enc, max_new_tokens=self.max_length, do_sample=False,
                                      num_beams=1)
        return [t.strip() for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]


class BackTranslateAugmenter:
    name = "backtranslate"

    def __init__(self, cfg: BackTranslateAugmentConfig, reporter: Reporter = NULL) -> None:
        self.forward = Seq2Seq(cfg.forward_model, "forward_model", cfg.max_length)
        self.backward = Seq2Seq(cfg.backward_model, "backward_model", cfg.max_length)
        self.batch_size = cfg.batch_size
        self.reporter = reporter

    def augment(self, texts: list[str]) -> list[str]:
        out: list[str] = []
        starts = range(0, len(texts), self.batch_size)
        for s in self.reporter.track(starts, total=len(starts), description="back-translating"):
            part = texts[s:s + self.batch_size]
            back = self.backward(self.forward(part))
            out += [b or t for b, t in zip(back, part, strict=True)]
        return out
