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
# "auto" precision means bf16 on CPUs with avx512_bf16/AMX and fp32 elsewhere: tests compare
# scores at 1e-5 and pin small-model results, so they run in fp32 on every machine; the bf16
# paths have tests of their own that set it explicitly.
os.environ.setdefault("HEADSTART_BF16", "0")

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


@pytest.fixture(scope="session")
def tiny_mpnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer MPNet (the bundled mpnet's architecture: relative position bias, positions offset
    past the pad id, </s></s> between a pair) over the committed vocabulary."""
    import torch
    from transformers import MPNetConfig, MPNetModel, MPNetTokenizerFast

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-mpnet")
    special = {"bos_token": "[CLS]", "cls_token": "[CLS]", "eos_token": "[SEP]", "sep_token": "[SEP]"}
    tokenizer = MPNetTokenizerFast(
        vocab=str(ASSETS / "vocab.txt"), pad_token="[PAD]", mask_token="[MASK]", unk_token="[UNK]", **special
    )
    config = MPNetConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,  # 128 positions after the pad id's offset, as 514 gives 512
        pad_token_id=tokenizer.pad_token_id,
    )
    MPNetModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _corpus_words() -> list[str]:
    """The committed vocabulary's words: the tiny BPE and T5 tokenizers are built from them."""
    lines = (ASSETS / "vocab.txt").read_text(encoding="utf-8").split()
    return [w for w in lines if w.isalpha() and not w.startswith("[")]


def _byte_level_bpe() -> object:
    """A byte-level BPE like GPT-2's and SmolLM2's, trained on the corpus (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    words = _corpus_words()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    # each word alone and after a space, as it appears inside sentences
    tok.train_from_iterator(words + [" ".join(words[i : i + 8]) for i in range(0, len(words), 4)], trainer)
    return tok


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer GPT-2 with a byte-level BPE and no pad token, as GPT-2 ships."""
    import torch
    from transformers import GPT2Config, GPT2Model, GPT2TokenizerFast

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-gpt2")
    eos = "<|endoftext|>"
    tokenizer = GPT2TokenizerFast(tokenizer_object=_byte_level_bpe(), bos_token=eos, eos_token=eos, unk_token=eos)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=128)
    GPT2Model(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with a generic byte-level BPE tokenizer: SmolLM2's layout, in miniature."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-llama")
    eos = "<|endoftext|>"
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=_byte_level_bpe(), bos_token=eos, eos_token=eos)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(out)  # a causal LM folder, as the hub and GGUF give
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer T5 with a Unigram (SentencePiece-style) vocabulary of the corpus words."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-t5")
    words = _corpus_words()
    chars = sorted({c for w in words for c in w})
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -3.0)]
    vocab += [("\u2581" + w, -2.0) for w in words] + [(c, -5.0) for c in chars]
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=2,
        num_heads=2,
        decoder_start_token_id=tokenizer.pad_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    T5ForConditionalGeneration(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests_support import FUZZ_COUNT

    if FUZZ_COUNT["inputs"]:
        n = FUZZ_COUNT["inputs"]
        terminalreporter.write_line(
            f"fuzz: {n} generated hostile inputs to the readers and CLI flags, each read or refused with a typed error"
        )
