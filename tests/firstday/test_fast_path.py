"""The fast query path (issue 17, point 7): over an ONNX index, `search` and `serve` load
neither torch nor sentence-transformers, and the tokenizers-only path matches transformers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("torch", "sentence_transformers", "transformers")

PROBE = """
import json, sys
run = sys.argv[1]
sys.argv = ["ticketsim", "search", "--run-dir", run, "--json", "-k", "3", "vpn drops"]
from ticketsim import cli
try:
    cli.main()
except SystemExit as exc:
    assert not exc.code, exc.code
after_search = sorted({m.split(".")[0] for m in sys.modules})
from ticketsim.service.app import create_app
from ticketsim.rundir import RunDir
from fastapi.testclient import TestClient
with TestClient(create_app(RunDir(run))) as client:
    hits = client.post("/search", json={"text": "vpn drops", "k": 2}).json()["hits"]
after_serve = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"search": after_search, "serve": after_serve, "hits": len(hits)}))
"""


def test_onnx_search_and_serve_import_neither_torch_nor_sentence_transformers(
        cold_run: dict) -> None:
    meta = json.loads((cold_run["run"] / "index" / "meta.json").read_text())
    assert meta["encoder"] == "onnx"
    res = subprocess.run([sys.executable, "-c", PROBE, str(cold_run["run"])], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["hits"] == 2
    for phase in ("search", "serve"):
        assert "onnxruntime" in out[phase] and "tokenizers" in out[phase]
        assert not set(HEAVY) & set(out[phase]), (phase, set(HEAVY) & set(out[phase]))


def test_the_tokenizers_path_gives_transformers_token_ids(cold_run: dict) -> None:
    from transformers import AutoTokenizer

    from ticketsim.inference.batching import tokenize
    from ticketsim.inference.onnx_backend import FastTokenizer

    folder = next(Path(cold_run["run"], "cache").glob("onnx-*"))
    texts = ["VPN drops every few minutes!", "", "Ünïcödé café — naïve " * 20, "a\tb\nc"]
    fast = tokenize(FastTokenizer(folder), texts, 16)
    slow = tokenize(AutoTokenizer.from_pretrained(str(folder)), texts, 16)
    assert fast.ids == slow.ids and fast.type_ids == slow.type_ids
    assert fast.lengths.tolist() == slow.lengths.tolist() and max(fast.lengths) == 16
    assert FastTokenizer(folder).pad_token_id == AutoTokenizer.from_pretrained(
        str(folder)).pad_token_id
