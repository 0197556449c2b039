"""Augmenters: the simple baseline, WordNet synonyms, back-translation with tiny seq2seq models
built here, and paraphrase through a local text-generation model and a localhost HTTP server."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pandas as pd
import pytest

from ticketsim.config import (
    AugmentConfig,
    BackTranslateAugmentConfig,
    ParaphraseAugmentConfig,
    SimpleAugmentConfig,
    WordnetAugmentConfig,
)
from ticketsim.errors import TicketsimError
from ticketsim.pairs.augment import augment_pairs, build
from ticketsim.pairs.augment.simple import SimpleAugmenter
from ticketsim.pairs.augment.wordnet import DEBIAN_DICT, WordnetAugmenter

TEXT = "the laptop screen stays black after the update on host-01.corp error 0x80070005 build 22H2"


def _pairs(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame({"anchor_id": [f"T{i}" for i in range(n)],
                         "positive_id": [f"U{i}" for i in range(n)],
                         "anchor": [f"{TEXT} number {i}" for i in range(n)],
                         "positive": [f"other text {i}" for i in range(n)],
                         "source": "link", "category": "", "score": 1.0})


# --------------------------------------------------------------------------- simple
@pytest.mark.config_keys("pairs.augment.simple.rate", "pairs.augment.seed")
def test_rate_and_seed_choose_how_many_and_which_pairs_get_a_copy() -> None:
    pairs = _pairs(20)
    out = augment_pairs(pairs, AugmentConfig(simple=SimpleAugmentConfig(rate=0.25), seed=1))
    assert len(out) == 5 and set(out.source) == {"augment:simple"}
    again = augment_pairs(pairs, AugmentConfig(simple=SimpleAugmentConfig(rate=0.25), seed=1))
    other = augment_pairs(pairs, AugmentConfig(simple=SimpleAugmentConfig(rate=0.25), seed=2))
    assert out.anchor_id.tolist() == again.anchor_id.tolist()
    assert out.anchor.tolist() == again.anchor.tolist()
    assert out.anchor_id.tolist() != other.anchor_id.tolist()
    assert (out.positive == pairs.set_index("anchor_id").loc[out.anchor_id, "positive"].values).all()
    assert augment_pairs(pairs, AugmentConfig()).empty  # every rate defaults to 0


@pytest.mark.config_keys("pairs.augment.simple.drop", "pairs.augment.simple.shuffle_window")
def test_drop_and_shuffle_window() -> None:
    words = " ".join(f"w{i}" for i in range(200))
    kept = SimpleAugmenter(SimpleAugmentConfig(drop=0.5, shuffle_window=1)).one(words).split()
    assert 70 < len(kept) < 130
    assert kept == sorted(kept, key=lambda w: int(w[1:]))  # window 1: order untouched
    none_dropped = SimpleAugmenter(SimpleAugmentConfig(drop=0.0, shuffle_window=3)).one(words).split()
    assert sorted(none_dropped) == sorted(words.split()) and none_dropped != words.split()
    moved = [abs(none_dropped.index(f"w{i}") - i) for i in range(200)]
    assert max(moved) <= 2  # a word moves less than the window


# --------------------------------------------------------------------------- wordnet
SYN = {"laptop": ["notebook"], "screen": ["display"], "black": ["dark"], "stays": ["remains"],
       "update": ["upgrade"], "error": ["mistake"], "build": ["construct"]}


@pytest.mark.config_keys("pairs.augment.wordnet.replace", "pairs.augment.wordnet.rate")
def test_wordnet_replaces_words_but_never_codes_hosts_or_numbers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    aug = WordnetAugmenter(WordnetAugmentConfig(replace=1.0), synonyms=lambda w: SYN.get(w, []))
    out = aug.one(TEXT)
    assert "notebook" in out and "display" in out and "upgrade" in out
    for kept in ("host-01.corp", "0x80070005", "22H2", "the", "after"):
        assert kept in out.split()
    some = WordnetAugmenter(WordnetAugmentConfig(replace=0.3), synonyms=lambda w: SYN.get(w, []))
    changed = sum(a != b for a, b in zip(some.one(TEXT).split(), TEXT.split(), strict=True))
    assert changed == 2  # 30% of the 7 eligible words, rounded
    assert WordnetAugmenter.protected("KB5034441") and WordnetAugmenter.protected("SAP")
    assert WordnetAugmenter.protected("iPhone") and not WordnetAugmenter.protected("printer")
    # rate: how many pairs get a copy, through the registry (the lookup stubbed: no data needed)
    import ticketsim.pairs.augment.wordnet as wn

    monkeypatch.setattr(wn, "wordnet_synonyms", lambda data_dir: lambda w: SYN.get(w, []))
    out_pairs = augment_pairs(_pairs(10), AugmentConfig(wordnet=WordnetAugmentConfig(rate=0.5)))
    assert len(out_pairs) == 5 and set(out_pairs.source) == {"augment:wordnet"}
    assert out_pairs.anchor.str.contains("notebook|display|upgrade|remains|dark").sum() >= 3


@pytest.mark.config_keys("pairs.augment.wordnet.data_dir")
def test_wordnet_without_data_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nltk

    import ticketsim.pairs.augment.wordnet as wn

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "nothing")])
    monkeypatch.setattr(wn, "DEBIAN_DICT", tmp_path / "no-debian")
    with pytest.raises(TicketsimError, match="apt-get install wordnet-base") as err:
        WordnetAugmenter(WordnetAugmentConfig(data_dir=tmp_path / "empty"))
    assert "pairs.augment.wordnet.data_dir" in str(err.value)


@pytest.mark.slow  # needs the system's Debian wordnet-base package
def test_wordnet_reads_debian_files_laid_out_for_nltk(tmp_path: Path) -> None:
    if not (DEBIAN_DICT / "data.noun").is_file():
        pytest.skip("apt-get install wordnet-base wordnet-sense-index")
    aug = WordnetAugmenter(WordnetAugmentConfig(replace=1.0, data_dir=tmp_path / "nltk"))
    assert (tmp_path / "nltk" / "corpora" / "wordnet" / "lexnames").is_file()
    assert "laptop computer" in aug.synonyms("laptop")
    assert "0x80070005" in aug.one(TEXT)


# --------------------------------------------------------------------------- tiny models
def _tokenizer(folder: Path):  # type: ignore[no-untyped-def]
    import re

    from transformers import BertTokenizerFast

    from tinymodel import write_vocab

    folder.mkdir(parents=True, exist_ok=True)
    write_vocab(folder, re.findall(r"\w+", f"{TEXT} paraphrase rewrite this ticket".lower()))
    return BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)


def _seq2seq(folder: Path, seed: int) -> Path:
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    torch.manual_seed(seed)
    tok = _tokenizer(folder)
    cfg = BartConfig(vocab_size=tok.vocab_size, d_model=16, encoder_layers=1, decoder_layers=1,
                     encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                     decoder_ffn_dim=32, max_position_embeddings=64, pad_token_id=tok.pad_token_id,
                     bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id,
                     decoder_start_token_id=tok.cls_token_id, forced_eos_token_id=None)
    BartForConditionalGeneration(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def translators(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("bt")
    return _seq2seq(base / "fwd", 0), _seq2seq(base / "bwd", 1)


@pytest.mark.config_keys("pairs.augment.backtranslate.forward_model",
                         "pairs.augment.backtranslate.backward_model",
                         "pairs.augment.backtranslate.batch_size",
                         "pairs.augment.backtranslate.max_length",
                         "pairs.augment.backtranslate.rate")
def test_backtranslation_runs_both_models_in_batches(translators: tuple[Path, Path]) -> None:
    from ticketsim.pairs.augment.backtranslate import BackTranslateAugmenter

    fwd, bwd = translators
    cfg = BackTranslateAugmentConfig(rate=0.5, forward_model=fwd, backward_model=bwd,
                                     batch_size=2, max_length=6)
    aug = BackTranslateAugmenter(cfg)
    calls: list[int] = []
    for side in (aug.forward, aug.backward):
        orig = side.model.generate

        def counting(*a, _orig=orig, **kw):  # type: ignore[no-untyped-def]
            calls.append(kw["input_ids"].shape[0])
            out = _orig(*a, **kw)
            assert out.shape[1] <= 6 + 1  # max_length new tokens (+ the start token)
            return out
        side.model.generate = counting  # type: ignore[method-assign]
    texts = [f"{TEXT} {i}" for i in range(5)]
    out = aug.augment(texts)
    assert len(out) == 5 and all(isinstance(t, str) for t in out)
    assert calls == [2, 2, 2, 2, 1, 1]  # forward+backward per batch of 2
    assert aug.augment(texts) == out  # greedy: deterministic
    pairs = augment_pairs(_pairs(10), AugmentConfig(backtranslate=cfg))
    assert len(pairs) == 5 and set(pairs.source) == {"augment:backtranslate"}
    with pytest.raises(TicketsimError, match="forward_model"):
        BackTranslateAugmenter(BackTranslateAugmentConfig(forward_model=None, backward_model=bwd))


@pytest.fixture(scope="module")
def tiny_causal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("gpt")
    tok = _tokenizer(folder)
    cfg = GPT2Config(vocab_size=tok.vocab_size, n_embd=16, n_layer=1, n_head=2, n_positions=256,
                     bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id)
    GPT2LMHeadModel(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.mark.config_keys("pairs.augment.paraphrase.local_model", "pairs.augment.paraphrase.max_tokens")
def test_paraphrase_with_a_local_generation_model(tiny_causal: Path, tmp_path: Path) -> None:
    from ticketsim.pairs.augment.paraphrase import ParaphraseAugmenter

    cfg = ParaphraseAugmentConfig(local_model=tiny_causal, max_tokens=5, cache=tmp_path / "c.jsonl")
    aug = ParaphraseAugmenter(cfg)
    out = aug.augment(["laptop screen black", "vpn error"])
    assert len(out) == 2
    tok = aug._local[0]  # type: ignore[index]
    assert all(len(tok(t, add_special_tokens=False)["input_ids"]) <= 5 for t in out)


class _Handler(BaseHTTPRequestHandler):
    log: list[dict] = []
    delay = 0.0
    fail = False

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).log.append({"path": self.path, "body": body,
                               "auth": self.headers.get("Authorization")})
        if type(self).delay:
            time.sleep(type(self).delay)
        if type(self).fail:
            self.send_response(500)
            self.end_headers()
            return
        text = body["messages"][0]["content"].rsplit("\n", 1)[-1]
        answer = {"choices": [{"message": {"role": "assistant", "content": f"reworded: {text}"}}]}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture()
def server():  # type: ignore[no-untyped-def]
    _Handler.log, _Handler.delay, _Handler.fail = [], 0.0, False
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", _Handler
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.config_keys("pairs.augment.paraphrase.url", "pairs.augment.paraphrase.model",
                         "pairs.augment.paraphrase.api_key_env", "pairs.augment.paraphrase.prompt",
                         "pairs.augment.paraphrase.cache", "pairs.augment.seed",
                         "pairs.augment.paraphrase.rate")
def test_paraphrase_through_an_openai_compatible_server_with_cache(
        server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from ticketsim.pairs.augment.paraphrase import ParaphraseAugmenter

    url, handler = server
    monkeypatch.setenv("MY_LLM_KEY", "sekret")
    cfg = ParaphraseAugmentConfig(url=url, model="qwen-tiny", api_key_env="MY_LLM_KEY",
                                  prompt="Say it differently:\n{text}",
                                  cache=tmp_path / "para.jsonl", rate=0.5, max_tokens=33)
    aug = build("paraphrase", AugmentConfig(paraphrase=cfg, seed=7), cache_dir=None)
    assert isinstance(aug, ParaphraseAugmenter)
    out = aug.augment(["vpn drops", "printer jam"])
    assert out == ["reworded: vpn drops", "reworded: printer jam"]
    first = handler.log[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer sekret"
    assert first["body"]["model"] == "qwen-tiny" and first["body"]["seed"] == 7
    assert first["body"]["max_tokens"] == 33
    assert first["body"]["messages"][0]["content"] == "Say it differently:\nvpn drops"
    assert (tmp_path / "para.jsonl").is_file()
    n = len(handler.log)
    assert ParaphraseAugmenter(cfg).augment(["vpn drops", "printer jam"]) == out
    assert len(handler.log) == n  # the rerun is served from the cache
    pairs = augment_pairs(_pairs(4), AugmentConfig(paraphrase=cfg))
    assert len(pairs) == 2 and pairs.anchor.str.startswith("reworded: ").all()


@pytest.mark.config_keys("pairs.augment.paraphrase.retries", "pairs.augment.paraphrase.timeout")
def test_paraphrase_retries_then_fails_clearly(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ticketsim.pairs.augment.paraphrase import ParaphraseAugmenter

    url, handler = server
    handler.fail = True
    cfg = ParaphraseAugmentConfig(url=url, retries=2, cache=tmp_path / "c.jsonl")
    with pytest.raises(TicketsimError, match="after 3 attempt"):
        ParaphraseAugmenter(cfg).augment(["vpn drops"])
    assert len(handler.log) == 3
    handler.fail, handler.delay = False, 1.0
    handler.log.clear()
    start = time.monotonic()
    with pytest.raises(TicketsimError, match="after 1 attempt"):
        ParaphraseAugmenter(ParaphraseAugmentConfig(url=url, retries=0, timeout=0.2,
                                                    cache=tmp_path / "d.jsonl")).augment(["x"])
    assert time.monotonic() - start < 0.9
