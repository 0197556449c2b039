"""A tiny random sentence-transformers model built locally: nothing downloads."""

from __future__ import annotations

from pathlib import Path

WORDS = ["vpn", "password", "reset", "outlook", "email", "printer", "laptop", "screen", "login", "account", "locked", "network", "wifi", "error", "install", "software", "sap", "erp", "payroll", "hr", "badge", "access", "share", "drive", "folder", "teams", "meeting", "slow", "crash", "update", "windows", "mac", "phone", "mobile", "mfa", "token", "certificate", "expired", "cannot", "connect", "print", "jam", "toner", "battery", "keyboard", "mouse", "monitor", "docking", "station", "license", "excel", "word", "pdf", "the", "a", "to", "is", "not", "my", "on", "in", "with", "and", "of", "for", "after", "when", "since", "please", "help", "urgent", "again", "user"]


def write_vocab(folder: Path, words: list[str]) -> list[str]:
    """A WordPiece vocab.txt in which every word is one token and the characters (with their
    ## forms) spell anything else from the alphabet; returns the words.

    Written, not trained: WordPiece training breaks its many frequency ties differently from
    run to run, so a trained tiny tokenizer (and every score of a model on it) changed between
    runs and made tests that compare systems flaky.
    """
    vocab = sorted(set(words))
    chars = sorted({c for w in vocab for c in w})
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{c}" for c in chars),
              *(w for w in vocab if w not in chars)]
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n")
    return vocab


def build_tiny_model(folder: Path, dim: int = 32, layers: int = 2, seed: int = 0,
                     words: list[str] | None = None) -> Path:
    """A random BERT with a WordPiece tokenizer over ``words`` (each word one token), saved
    as a sentence-transformers folder; the same files on every run."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tok_dir = folder / "_tok"
    tok_dir.mkdir(exist_ok=True)
    vocab = write_vocab(tok_dir, words or WORDS)
    # transformers 5 renamed vocab_file -> vocab; from_pretrained reads vocab.txt either way.
    tokenizer = BertTokenizerFast.from_pretrained(str(tok_dir), do_lower_case=True)
    assert all(tokenizer.tokenize(w) == [w] for w in vocab), "a word is not one token"
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=dim, num_hidden_layers=layers,
        num_attention_heads=2, intermediate_size=dim * 2, max_position_embeddings=256,
    )
    hf_dir = folder / "_hf"
    BertModel(config).save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    transformer = models.Transformer(str(hf_dir), max_seq_length=64)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")
    out = folder / "model"
    model.save(str(out))
    return out
