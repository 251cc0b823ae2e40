"""Shared fixtures: a tiny BERT built from a config with the committed vocabulary, tiny data files.

The tiny model (hidden 32, 2 layers) trains in seconds on CPU, so every test exercises the real
code paths (Trainer, save_pretrained, pipeline) without network or large weights.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests_support

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ASSETS = Path(__file__).parent / "assets"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer BERT + WordPiece tokenizer saved as a normal HF folder."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = BertTokenizerFast(vocab=str(ASSETS / "vocab.txt"), do_lower_case=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests_support import FUZZ_COUNT

    if FUZZ_COUNT["inputs"]:
        n = FUZZ_COUNT["inputs"]
        terminalreporter.write_line(
            f"fuzz: {n} generated hostile inputs to the readers and CLI flags, each read or refused with a typed error"
        )
