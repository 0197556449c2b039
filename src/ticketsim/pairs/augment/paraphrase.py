"""Generative paraphrase through an OpenAI-compatible chat endpoint or a local model folder.

Pick it for the richest rewrites when an LLM is at hand: vLLM, Ollama and llama.cpp's
server all speak the OpenAI chat API (``url``, ``model``; the key is read from the
environment variable ``api_key_env``, never from the config). Without ``url``, a local
text-generation folder (``local_model``) is used. Requests have a timeout and retries;
every answer is cached in a JSON-lines file keyed by model, prompt and text, so a rerun
pays nothing for texts it has seen.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from ticketsim.config import ParaphraseAugmentConfig
from ticketsim.errors import TicketsimError
from ticketsim.progress import NULL, Reporter

CACHE_FILE = "paraphrase-cache.jsonl"


class ParaphraseCache:
    """Append-only JSON-lines cache: one ``{"key", "text"}`` line per paraphrase."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, str] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                    self.data[rec["key"]] = rec["text"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut by a crash: ignore it, it will be redone

    def add(self, key: str, text: str) -> None:
        self.data[key] = text
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"key": key, "text": text}) + "\n")


class ParaphraseAugmenter:
    name = "paraphrase"

    def __init__(self, cfg: ParaphraseAugmentConfig, cache_dir: Path | None = None,
                 reporter: Reporter = NULL, seed: int = 0) -> None:
        self.seed = seed
        if not cfg.url and cfg.local_model is None:
            raise TicketsimError(
                "the paraphrase augmenter needs an endpoint or a local model",
                field="pairs.augment.paraphrase.url",
                hint="set url (e.g. http://localhost:11434/v1 for Ollama) and model, or local_model",
            )
        if "{text}" not in cfg.prompt:
            raise TicketsimError("the paraphrase prompt must contain {text}",
                                 field="pairs.augment.paraphrase.prompt")
        self.cfg = cfg
        self.reporter = reporter
        path = cfg.cache or (cache_dir or Path(".")) / CACHE_FILE
        self.cache = ParaphraseCache(Path(path))
        self.requests = 0
        self._local = None
        if not cfg.url:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            folder = str(cfg.local_model)
            if not Path(folder).is_dir():
                raise TicketsimError(f"local model folder {folder} not found",
                                     field="pairs.augment.paraphrase.local_model")
            self._local = (AutoTokenizer.from_pretrained(folder),
                           AutoModelForCausalLM.from_pretrained(folder).eval())

    def key(self, text: str) -> str:
        who = self.cfg.url and f"{self.cfg.url}|{self.cfg.model}" or str(self.cfg.local_model)
        raw = json.dumps([who, self.cfg.prompt, self.cfg.max_tokens, text])
        return hashlib.sha256(raw.encode()).hexdigest()

    def _http(self, text: str) -> str:
        url = str(self.cfg.url).rstrip("/") + "/chat/completions"
        body = json.dumps({
            "model": self.cfg.model, "max_tokens": self.cfg.max_tokens, "temperature": 0.7,
            "seed": self.seed,
            "messages": [{"role": "user", "content": self.cfg.prompt.format(text=text)}],
        }).encode()
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.cfg.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        last: Exception | None = None
        for attempt in range(self.cfg.retries + 1):
            self.requests += 1
            try:
                req = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.cfg.timeout) as resp:
                    answer = json.loads(resp.read().decode("utf-8"))
                return str(answer["choices"][0]["message"]["content"]).strip()
            except (urllib.error.URLError, TimeoutError, OSError, KeyError, IndexError,
                    json.JSONDecodeError) as exc:
                last = exc
                if attempt < self.cfg.retries:
                    time.sleep(min(0.2 * 2 ** attempt, 5.0))
        raise TicketsimError(
            f"paraphrase endpoint {url} failed after {self.cfg.retries + 1} attempt(s): {last}",
            field="pairs.augment.paraphrase.url",
            hint="check that the server runs and serves the model; raise timeout or retries",
        )

    def _generate(self, text: str) -> str:
        import torch

        assert self._local is not None
        tok, model = self._local
        prompt = self.cfg.prompt.format(text=text)
        enc = tok(prompt, return_tensors="pt")
        enc.pop("token_type_ids", None)
        torch.manual_seed(self.seed)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=self.cfg.max_tokens, do_sample=False,
                                 pad_token_id=tok.pad_token_id or tok.eos_token_id or 0)
        return str(tok.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)).strip()

    def augment(self, texts: list[str]) -> list[str]:
        out = []
        for t in self.reporter.track(texts, total=len(texts), description="paraphrasing"):
            k = self.key(t)
            if k not in self.cache.data:
                new = self._http(t) if self.cfg.url else self._generate(t)
                self.cache.add(k, new or t)
            out.append(self.cache.data[k])
        return out
