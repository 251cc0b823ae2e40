"""Generation: fine-tune a decoder (SmolLM2, GPT-2, Llama, ...) or an encoder-decoder (T5) to
write a target text for an input text (data-to-text, summarization, translation, instructions).

Decoders train with TRL's ``SFTTrainer`` on prompt/completion pairs (the loss counts only the
completion's tokens; ``--packing`` packs short examples into full rows), encoder-decoders with
transformers' ``Seq2SeqTrainer``. The saved directory is a stock causal LM or seq2seq model with
the generation settings in ``generation_config.json``: ``pipeline("text-generation", model=DIR)``
loads a decoder.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import datasets
import numpy as np
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    DataCollatorForSeq2Seq,
    GenerationConfig,
    Seq2SeqTrainingArguments,
)

from headstart.config import RunConfig
from headstart.data.checks import CheckSplit
from headstart.data.examples import DataBundle
from headstart.data.labels import LabelSet
from headstart.data.options import ReadOptions
from headstart.data.readers import hf_split_table
from headstart.errors import ConfigError, DataError
from headstart.modeling.backbones import DECODER, ENCODER_DECODER, attention_dropout_setting, quirks_for
from headstart.tasks.base import PredictOption, TrainingSetup
from headstart.tasks.generation import prompts as prompting
from headstart.tasks.generation.config import CHECKS, GENERATION_KEYS, Config
from headstart.tasks.generation.examples import GenerationExamples, read_generation, read_options
from headstart.tasks.generation.metrics import METRICS, sentence_scores, text_scores
from headstart.tasks.generation.trainers import seq2seq_trainer, sft_trainer
from headstart.tasks.generation.writing import stream, write

NO_LABELS = LabelSet([])  # texts, not classes
OUTPUTS_SHOWN = 20  # the report's outputs, worst first


@dataclass
class Settings:
    """The generation model's headstart.json fields (how an input becomes the prompt)."""

    decoder_only: bool = True
    prompt_template: str = prompting.DECODER_TEMPLATE
    chat_template: bool = False
    stop_strings: list[str] = field(default_factory=list)


class Generation:
    name: ClassVar[str] = "generation"
    aliases: ClassVar[tuple[str, ...]] = ("text-generation", "sft", "generate")  # also accepted as task.type
    pipeline_task: ClassVar[str] = "text-generation"
    long_inputs: ClassVar[str] = "truncated"
    pre_split: ClassVar[bool] = False
    max_length: ClassVar[int] = 512  # prompt and target together (a decoder) or each (T5)
    settings_type: ClassVar[type] = Settings
    config_type: ClassVar[type] = Config
    config_checks: ClassVar[tuple[Callable[[Any], list[str]], ...]] = CHECKS
    predict_options: ClassVar[dict[str, PredictOption]] = {}
    input_fields: ClassVar[dict[str, str]] = {}  # inputs come as the command's TEXT arguments

    def __init__(self) -> None:
        self.decoder_only = True
        self.settings = Settings()
        self.eval_samples = 0
        self._chat = False  # inputs go through the tokenizer's chat template
        self._validation: GenerationExamples | None = None

    # -- data -----------------------------------------------------------------------------------
    def load_data(self, cfg: RunConfig, train: Any, validation: Any, test: Any) -> DataBundle:
        require_extra()  # before any data is read
        if cfg.task.class_weights is not None:
            raise ConfigError(
                "no task.class_weights for generation (texts, not classes)",
                found=repr(cfg.task.class_weights),
                fix="remove task.class_weights",
            )
        notes: list[str] = []
        options = ReadOptions.from_config(cfg.data)
        target = cfg.task.target_column or cfg.data.label_column
        train_ex = self._load(cfg, options, target, train, cfg.data.train, cfg.data.train_split_name)
        if train_ex is None:
            raise DataError("training data", found="none", fix="pass --train FILE (csv, jsonl, parquet, ...)")
        test_ex = self._load(cfg, options, target, test, cfg.data.test, cfg.data.test_split_name)
        if test_ex is None and cfg.data.test_fraction:
            train_ex, test_ex = split_inputs(train_ex, cfg.data.test_fraction, cfg.train.seed)
            notes.append(f"held out a test split of {len(test_ex)} inputs (seed {cfg.train.seed})")
        val_ex = self._load(cfg, options, target, validation, cfg.data.validation, cfg.data.validation_split_name)
        if val_ex is None:
            train_ex, val_ex = split_inputs(train_ex, cfg.data.validation_fraction, cfg.train.seed + 1)
            notes.append(
                f"no validation set given: held out {len(val_ex)} training inputs with all their references "
                f"(seed {cfg.train.seed + 1})"
            )
        pairs = len(train_ex.pairs())
        if pairs > len(train_ex):
            notes.append(f"train: {pairs} targets for {len(train_ex)} inputs (several references per input)")
        chat = cfg.task.chat_template
        if train_ex.is_chat and chat is False:
            raise ConfigError(
                "task.chat_template true (or null) for chat-style 'messages' data",
                found="task.chat_template false",
                fix="leave task.chat_template out, or give input/target columns instead of messages",
            )
        self._chat = train_ex.is_chat if chat is None else chat
        self._validation = val_ex
        self.eval_samples = min(cfg.task.eval_samples, len(val_ex))
        return DataBundle(train_ex, val_ex, test_ex, NO_LABELS, notes)  # type: ignore[arg-type]

    def _load(
        self, cfg: RunConfig, options: ReadOptions, target: str | None, given: Any, path: str | None, split: str | None
    ) -> GenerationExamples | None:
        if given is not None:
            return read_generation(given, options, target)
        if path is not None:
            return read_generation(path, options, target)
        table = hf_split_table(cfg.data, split)
        return None if table is None else read_generation(table, options, target)

    def read_examples(self, source: Any, info: Any, options: ReadOptions, need_label: bool) -> GenerationExamples:
        options, target = read_options(options, info)
        return read_generation(source, options, target if need_label else None, need_targets=need_label)

    def check_labels(self, examples: Any, labels: LabelSet) -> None:
        return None

    def encode(
        self, examples: GenerationExamples, tokenizer: Any, labels: LabelSet, cfg: RunConfig
    ) -> tuple[Any, dict]:
        settings = self.settings
        if examples.is_chat or settings.chat_template:
            if not self.decoder_only:
                raise ConfigError(
                    "input/target columns for an encoder-decoder (T5 has no chat template)",
                    found="chat-style messages" if examples.is_chat else "task.chat_template true",
                    fix="give input and target columns, or use a decoder",
                )
            prompting.check_chat_template(tokenizer, cfg.model.name)
        pairs = examples.pairs()
        if self.decoder_only:
            data, lengths = self._sft_rows(pairs, tokenizer, examples.is_chat)
        else:
            data, lengths = self._seq2seq_rows(pairs, tokenizer, cfg.model.max_length)
        cut = sum(n > cfg.model.max_length for n in lengths)
        notes = []
        if cut:
            notes.append(
                f"{cut} of {len(lengths)} examples of {examples.source} are longer than max_length "
                f"{cfg.model.max_length} and were cut at the end"
            )
        summary = {
            "examples": len(examples),
            "targets": len(pairs),
            "source": examples.source,
            "tokens": int(sum(min(n, cfg.model.max_length) for n in lengths)),
            "longest_before_truncation": max(lengths, default=0),
            "truncated": cut,
            "lengths": [min(n, cfg.model.max_length) for n in lengths],
            "full_lengths": lengths,
            "notes": notes,
        }
        return data, summary

    def _prompt_text(self, tokenizer: Any, value: Any) -> str:
        if self.settings.chat_template or isinstance(value, list):
            return prompting.chat_prompt(tokenizer, prompting.as_messages(value, self.settings.prompt_template))
        return prompting.as_prompt(value, self.settings.prompt_template)

    def _sft_rows(self, pairs: list[tuple[Any, str]], tokenizer: Any, chat: bool) -> tuple[Any, list[int]]:
        """Prompt/completion rows as TRL reads them (conversational ones through the chat template)."""
        template = self.settings.prompt_template
        if chat or self.settings.chat_template:
            prompts: list[Any] = [prompting.as_messages(x, template) for x, _ in pairs]
            completions: list[Any] = [[{"role": "assistant", "content": t}] for _, t in pairs]
        else:
            prompts = [prompting.as_prompt(x, template) for x, _ in pairs]
            completions = [t for _, t in pairs]
        texts = [self._prompt_text(tokenizer, x) + t for x, t in pairs]
        lengths = [len(ids) + 1 for ids in tokenizer(texts)["input_ids"]]  # and the end-of-sequence token
        return datasets.Dataset.from_dict({"prompt": prompts, "completion": completions}), lengths

    def _seq2seq_rows(self, pairs: list[tuple[Any, str]], tokenizer: Any, max_length: int) -> tuple[Any, list[int]]:
        sources = [prompting.as_prompt(x, self.settings.prompt_template) for x, _ in pairs]
        full = tokenizer(sources, text_target=[t for _, t in pairs])
        encoded = tokenizer(sources, text_target=[t for _, t in pairs], truncation=True, max_length=max_length)
        lengths = [max(len(a), len(b)) for a, b in zip(full["input_ids"], full["labels"])]
        columns = {k: encoded[k] for k in ("input_ids", "attention_mask", "labels")}
        return datasets.Dataset.from_dict(columns), lengths

    def check_split(self, examples: GenerationExamples, summary: dict[str, Any]) -> CheckSplit:
        texts = [x if isinstance(x, str) else "\n".join(m["content"] for m in x) for x in examples.inputs]
        lengths = summary.get("full_lengths")
        if lengths is not None and len(lengths) != len(texts):  # one length per target: each input's longest
            per_input, k = [], 0
            for refs in examples.references or []:
                per_input.append(max(lengths[k : k + len(refs)]))
                k += len(refs)
            lengths = per_input
        return CheckSplit(texts, None, examples.locations, lengths=lengths)

    def collator(self, tokenizer: Any, pad_to_multiple_of: int | None = None) -> Any:
        if self.decoder_only:
            return None  # TRL's own (completion mask, padding-free packing)
        return DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100, pad_to_multiple_of=pad_to_multiple_of)

    # -- training -------------------------------------------------------------------------------
    def training_setup(self, cfg: RunConfig, tokenizer: Any) -> TrainingSetup:
        """TRL's SFTTrainer for decoders, Seq2SeqTrainer for encoder-decoders."""

        def bind(trainer: Any) -> None:
            trainer.write_scores = lambda model: self._sample_scores(model, trainer.processing_class, cfg)

        if not self.decoder_only:
            return TrainingSetup(seq2seq_trainer(), Seq2SeqTrainingArguments, {}, on_trainer=bind)
        from trl import SFTConfig

        arguments = {
            "max_length": cfg.model.max_length,
            "packing": cfg.task.packing,
            "completion_only_loss": True,
            "dataset_num_proc": None,
        }
        # activation_checkpointing comes from the run's config like every TrainingArguments field:
        # off unless asked for (TRL's own default is on), as it buys memory with a second forward pass
        return TrainingSetup(
            sft_trainer(), SFTConfig, arguments, measured_lengths=not cfg.task.packing, on_trainer=bind
        )

    # -- model and loss -------------------------------------------------------------------------
    def build_model(self, path: str, labels: LabelSet, cfg: RunConfig) -> Any:
        config = AutoConfig.from_pretrained(path)
        family = quirks_for(config).family
        if family not in (DECODER, ENCODER_DECODER):
            raise ConfigError(
                "a decoder (GPT-2, Llama, SmolLM2: --model smollm2) or an encoder-decoder (T5) to write text",
                found=f"'{cfg.model.name}', an encoder: it reads text but was not trained to write it",
                fix="use --model smollm2, a causal LM or a T5 model",
            )
        self.decoder_only = family == DECODER
        default = prompting.DECODER_TEMPLATE if self.decoder_only else prompting.SEQ2SEQ_TEMPLATE
        stops = cfg.task.stop_strings
        self.settings = Settings(
            decoder_only=self.decoder_only,
            prompt_template=cfg.task.prompt_template or default,
            chat_template=self._chat,
            stop_strings=[stops] if isinstance(stops, str) else list(stops or []),
        )
        setting = attention_dropout_setting(config, cfg.model.attention_dropout)
        auto = AutoModelForCausalLM if self.decoder_only else AutoModelForSeq2SeqLM
        model = auto.from_pretrained(path, **setting)
        model.generation_config = generation_config(model.generation_config, cfg, self.settings.stop_strings)
        return model

    def load_model(self, path: str, info: Any, **load: Any) -> Any:
        self.decoder_only = info.settings.decoder_only
        self.settings = info.settings
        auto = AutoModelForCausalLM if self.decoder_only else AutoModelForSeq2SeqLM
        return auto.from_pretrained(path, **load)

    def loss(self, class_weights: list[float]) -> Callable[..., Any]:
        raise ConfigError(
            "no task.class_weights for generation (texts, not classes)",
            found=str(class_weights),
            fix="remove task.class_weights",
        )

    def class_weights(self, setting: Any, labels: LabelSet, train_data: Any) -> list[float] | None:
        return None

    # -- scores ---------------------------------------------------------------------------------
    def main_metric(self, labels: LabelSet) -> str:
        # the checkpoint with the lowest validation loss, as SFT picks it: BLEU of a small written
        # sample is coarse (ties at 0 early on keep the first checkpoint); metric_for_best_model bleu asks for it
        return "loss"

    def metric_names(self, labels: LabelSet) -> list[str]:
        return list(METRICS) if self.eval_samples else []

    def train_metrics(self, prediction: Any, labels: LabelSet, cfg: RunConfig) -> dict[str, float]:
        return {}  # validation is scored by writing (trainers.py): no predictions are collected

    def _sample_scores(self, model: Any, tokenizer: Any, cfg: RunConfig) -> dict[str, float]:
        """BLEU, chrF, ROUGE and exact match of the first ``eval_samples`` validation inputs, written
        by the model as it is now (the loss covers all of validation)."""
        if not self.eval_samples or self._validation is None:
            return {}
        sample = self._validation.subset(range(self.eval_samples))
        was_training = model.training
        model.eval()
        try:
            outputs = self.write(_Run(model, tokenizer, cfg.model.max_length), sample.inputs)
        finally:
            model.train(was_training)
        scores = text_scores(outputs, sample.references or [])
        return {name: float(scores[name]) for name in METRICS}

    def tune(self, run: Any, validation: Any, cfg: RunConfig) -> dict[str, Any]:
        return {}

    def evaluate(self, run: Any, examples: GenerationExamples, batch_size: int = 64) -> dict[str, Any]:
        outputs = self.write(run, examples.inputs, batch_size=min(batch_size, 16))
        references = examples.references or []
        out: dict[str, Any] = text_scores(outputs, references)
        each = sentence_scores(outputs, references)
        worst = np.argsort(each, kind="stable")[:OUTPUTS_SHOWN]
        out["outputs"] = [
            {
                "location": examples.locations[i],
                "input": _shown(examples.inputs[i]),
                "references": references[i],
                "output": outputs[i],
                "chrf": round(each[i], 2),
            }
            for i in worst
        ]
        return out

    # -- writing --------------------------------------------------------------------------------
    def write(self, run: Any, inputs: list[Any], *, batch_size: int = 16) -> list[str]:
        """The model's output for each input (a text, or chat messages), in order."""
        prompts = [self._prompt_text(run.tokenizer, x) for x in inputs]
        _check_room(run, prompts)
        return write(run, prompts, batch_size=batch_size, stop_strings=self.settings.stop_strings)

    def stream(self, run: Any, value: Any, *, max_new_tokens: int | None = None) -> Any:
        """The output for one input, piece by piece as it is written."""
        prompt = self._prompt_text(run.tokenizer, _input_of(value, 0))
        _check_room(run, [prompt], max_new_tokens)
        return stream(run, prompt, max_new_tokens=max_new_tokens, stop_strings=self.settings.stop_strings)

    # -- saved directory ------------------------------------------------------------------------
    def saved_columns(self, bundle: DataBundle, cfg: RunConfig) -> dict[str, Any]:
        return dict(bundle.train.columns)  # type: ignore[attr-defined]

    def saved_settings(self, bundle: DataBundle, cfg: RunConfig) -> Settings:
        return self.settings

    def card_usage(self, info: Any) -> list[str]:
        example = '"name[Aromi], eatType[pub]"'
        lines = [
            "```python",
            "from headstart import Predictor",
            'predictor = Predictor.load("THIS_DIR")',
            f"predictor.predict([{example}])  # [{{'generated_text': ...}}]",
            "```",
            "",
        ]
        template = info.settings.prompt_template.replace("\n", "\\n")
        if info.settings.chat_template:
            lines += [
                "It is a stock causal LM whose tokenizer's chat template frames the input:",
                "```python",
                "from transformers import pipeline",
                'writer = pipeline("text-generation", model="THIS_DIR")',
                f'writer([{{"role": "user", "content": {example}}}])[0]["generated_text"][-1]["content"]',
                "```",
            ]
        elif info.settings.decoder_only:
            lines += [
                "It is a stock causal LM with its generation settings in `generation_config.json`:",
                "```python",
                "from transformers import pipeline",
                'writer = pipeline("text-generation", model="THIS_DIR")',
                f'writer("{template}".replace("{{input}}", {example}), return_full_text=False)',
                "```",
            ]
        else:
            lines += [
                "It is a stock seq2seq model (transformers 5 has no text2text pipeline):",
                "```python",
                "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer",
                'model = AutoModelForSeq2SeqLM.from_pretrained("THIS_DIR")',
                'tokenizer = AutoTokenizer.from_pretrained("THIS_DIR")',
                f'prompt = "{template}".replace("{{input}}", {example})',
                'written = model.generate(**tokenizer([prompt], return_tensors="pt"))',
                "tokenizer.batch_decode(written, skip_special_tokens=True)",
                "```",
            ]
        return lines

    def card_input(self, info: Any) -> str:
        how = (
            "the tokenizer's chat template"
            if info.settings.chat_template
            else f"the prompt {info.settings.prompt_template!r}"
        )
        return f"an input text through {how}, up to {info.max_length} tokens."

    def export_refusal(self, info: Any) -> str | None:
        return "a generating model runs its decoder once per written token: export it with optimum's ONNX exporter"

    def probe_batch(self, tokenizer: Any, info: Any, probe: list[str]) -> Any:
        return tokenizer(probe, padding=True, return_tensors="pt")

    # -- prediction -----------------------------------------------------------------------------
    def predict(self, run: Any, inputs: Any, *, batch_size: int, all_scores: bool, **options: Any) -> list[Any]:
        items = [inputs] if isinstance(inputs, str) else list(inputs)
        texts = [_input_of(x, i) for i, x in enumerate(items)]
        return [{"generated_text": text} for text in self.write(run, texts, batch_size=batch_size)]

    def predictor_methods(self) -> dict[str, Callable[..., Any]]:
        return {}

    def file_rows(self, info: Any, options: ReadOptions) -> Any:
        from headstart.tasks.generation.rows import GenerationRows

        return GenerationRows(read_options(options, info)[0].text_column)

    def serving(self) -> Any:
        from headstart.tasks.generation.serving import GenerationServing

        return GenerationServing()


@dataclass
class _Run:
    """The running Trainer's model as the writing code takes it (validation while training)."""

    model: Any
    tokenizer: Any
    max_length: int
    device: Any = None

    def __post_init__(self) -> None:
        self.device = next(self.model.parameters()).device
        self.info = type("Info", (), {"max_length": self.max_length})()


def require_extra() -> None:
    """TRL and the scoring libraries come with the ``generation`` extra."""
    import importlib.util

    missing = [name for name in ("trl", "sacrebleu", "rouge_score") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            "TRL, sacrebleu and rouge-score for task.type generation",
            found=f"{', '.join(missing)} not installed",
            fix="pip install 'headstart[generation]'",
        )


def generation_config(base: GenerationConfig, cfg: RunConfig, stop_strings: list[str]) -> GenerationConfig:
    """The model's generation settings with the run's (``task.max_new_tokens``, ``num_beams``, ...)."""
    out = GenerationConfig.from_dict(base.to_dict())
    values = {k: getattr(cfg.task, k) for k in GENERATION_KEYS}
    if not values["do_sample"]:
        values.pop("temperature")
        values.pop("top_p")
        out.temperature, out.top_p, out.top_k = None, None, None  # greedy: sampling settings would only warn
    out.update(**values, stop_strings=stop_strings or None)
    return out


def split_inputs(
    examples: GenerationExamples, fraction: float, seed: int
) -> tuple[GenerationExamples, GenerationExamples]:
    """A seeded split by input, every reference of an input on one side (no input leaks)."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n = max(1, round(fraction * len(order)))
    if n >= len(order):
        raise DataError(
            "more than one input, to hold some out for validation",
            found=f"{len(order)} input(s)",
            fix="pass --validation FILE",
            file=examples.source,
        )
    held = sorted(order[:n])
    kept = sorted(order[n:])
    return examples.subset(kept), examples.subset(held)


def _input_of(item: Any, i: int) -> Any:
    if isinstance(item, str):
        if not item.strip():
            raise DataError("a non-empty input text", found="an empty text", fix="remove it", file=f"input {i + 1}")
        return item
    if isinstance(item, dict) and isinstance(item.get("input"), str):
        return _input_of(item["input"], i)
    if isinstance(item, dict) and isinstance(item.get("messages"), list):
        return item["messages"]
    if isinstance(item, list) and all(isinstance(m, dict) and "content" in m for m in item):
        return item
    raise DataError(
        'a text, {"input": text}, or chat messages [{"role", "content"}] per input',
        found=repr(item)[:80],
        fix="pass texts",
        file=f"input {i + 1}",
    )


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else "\n".join(f"{m['role']}: {m['content']}" for m in value)


def _check_room(run: Any, prompts: list[str], max_new_tokens: int | None = None) -> None:
    """Refuse a prompt that leaves no room for the output in the model's positions."""
    limit = _positions(run.model.config)
    if limit is None:
        return
    room = max_new_tokens or run.model.generation_config.max_new_tokens or 0
    lengths = [len(ids) for ids in run.tokenizer(prompts)["input_ids"]]
    longest = int(np.argmax(lengths))
    if run.model.config.is_encoder_decoder:
        room = 0  # the encoder reads the input alone
    if lengths[longest] + room > limit:
        raise DataError(
            f"inputs of at most {limit - room} tokens (the model holds {limit} positions"
            + (f", {room} of them for the output" if room else "")
            + ")",
            found=f"{lengths[longest]} tokens",
            fix="shorten the input, or lower task.max_new_tokens",
            file=f"input {longest + 1}",
        )


def _positions(config: Any) -> int | None:
    for key in ("max_position_embeddings", "n_positions"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    return None
