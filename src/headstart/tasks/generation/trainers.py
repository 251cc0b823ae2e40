"""The ecosystem's trainers, validating by writing: TRL's SFTTrainer (decoders) and transformers'
Seq2SeqTrainer (encoder-decoders), each scoring a sample of written validation outputs beside the
validation loss, in the same evaluation (its metrics pick the best checkpoint and are logged).

Only the loss is collected from the validation batches: the logits of a whole validation set are
[rows, length, vocabulary], and TRL would run a second forward pass to build them.

On the CPU, the decoders' loss projects only the positions that have a label (the completion's
tokens) through the LM head, once: TRL's fused head scores only those where Triton runs, but on
the CPU it projects every position (prompt and padding too) and projects them again in the
backward pass, and it builds the logits of all of them at once.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from transformers import Seq2SeqTrainer
from transformers.utils import ModelOutput

METRIC_ROWS = 128  # positions whose softmax the logged entropy builds at once
COMPLETION_HEAD = "headstart_completion_head"  # the keyword that asks the patched forward for it
# the config fields by which a model scales or caps its logits: TRL's head applies them, this one does not
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier",
                     "logits_scaling")  # fmt: skip


class WritesWhileValidating:
    """Adds ``write_scores()`` (set by the task) to each evaluation's metrics, prefixed as HF does."""

    write_scores: Callable[[Any], dict[str, float]] | None = None

    def evaluation_loop(
        self, dataloader: Any, description: str, prediction_loss_only: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        output = super().evaluation_loop(dataloader, description, True, *args, **kwargs)  # type: ignore[misc]
        prefix = kwargs.get("metric_key_prefix", args[1] if len(args) > 1 else "eval")
        if self.write_scores is not None:
            for name, value in self.write_scores(self.model).items():
                output.metrics[f"{prefix}_{name}"] = value
        return output


@dataclass
class CompletionOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None  # [labelled positions, vocabulary]
    targets: torch.Tensor | None = None  # the labels of those positions


def add_completion_head(model: Any) -> bool:
    """Patch ``model.forward`` (a causal LM) to take ``headstart_completion_head=True``: the backbone,
    then the LM head on the positions whose next-token label is not -100 only. Like TRL's fused
    head it is a keyword of the model's own forward, so DDP and peft wrappers pass it through.
    False (nothing patched) where the model transforms its logits or has no separate backbone."""
    text_config = model.config.get_text_config()
    if any(getattr(text_config, name, None) is not None for name in _LOGIT_TRANSFORMS):
        return False
    backbone = getattr(model, "base_model", None)
    if backbone is None or backbone is model or model.get_output_embeddings() is None:
        return False
    previous = model.forward

    @functools.wraps(type(model).forward)  # generate() checks its keywords against this signature
    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.pop(COMPLETION_HEAD, False):
            return previous(*args, **kwargs)
        labels, count = kwargs.pop("labels"), kwargs.pop("num_items_in_batch", None)
        kwargs["use_cache"] = False
        hidden = self.base_model(*args, **kwargs).last_hidden_state[:, :-1]
        targets = labels[:, 1:].to(hidden.device)
        mask = targets != -100
        head = self.get_output_embeddings()
        logits = head(hidden[mask]).float()
        targets = targets[mask]
        total = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
        return CompletionOutput(loss=total / (mask.sum().clamp(min=1) if count is None else count),
                                logits=logits, targets=targets)  # fmt: skip

    model.forward = types.MethodType(forward, model)
    return True


def completion_metrics(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The summed entropy of the predicted distributions and the count of top-1 hits, as TRL logs
    them; a few rows at a time, since this runs while the step's activations are held."""
    entropy = logits.new_zeros((), dtype=torch.float32)
    for rows in logits.split(METRIC_ROWS):
        log_probs = torch.log_softmax(rows.float(), dim=-1)
        entropy -= (log_probs.exp() * log_probs).sum()
    return entropy, (logits.argmax(dim=-1) == targets).sum()


class CompletionHead:
    """SFTTrainer's loss with the completion-only head where it applies (the CPU, no label
    smoothing, custom loss, aux loss or sequence parallelism); TRL's own everywhere else."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from accelerate.utils import is_peft_model

        model = self.model.get_base_model() if is_peft_model(self.model) else self.model
        self._completion_head = (
            self.args.device.type == "cpu"
            and self.compute_loss_func is None
            and self.label_smoother is None
            and not self.aux_loss_enabled
            and getattr(self.args, "loss_type", "nll") == "nll"
            and add_completion_head(model)
        )

    def compute_loss(
        self, model: Any, inputs: Any, return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        if not self._completion_head or return_outputs or "shift_labels" in inputs or "labels" not in inputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)  # type: ignore[misc]
        outputs = model(**inputs, num_items_in_batch=num_items_in_batch, **{COMPLETION_HEAD: True})
        loss = outputs.loss
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            # the token count covers every rank and DDP averages the gradients: scaled as TRL's loss is
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())
        self._log_completion(inputs, outputs)
        return loss

    def _log_completion(self, inputs: Any, outputs: CompletionOutput) -> None:
        """The metrics TRL's loss logs: entropy and token accuracy over the labelled positions, tokens seen."""
        mode = "train" if self.model.training else "eval"
        gather = self.accelerator.gather_for_metrics
        with torch.no_grad():
            logits = outputs.logits.detach()
            entropy, correct = completion_metrics(logits, outputs.targets)
            valid = gather(torch.tensor(len(outputs.targets), device=logits.device)).sum()
            entropy, correct = gather(entropy).sum(), gather(correct).sum()
        metrics = self._metrics[mode]
        metrics["entropy"].append((entropy / valid).item() if valid > 0 else 0.0)
        metrics["mean_token_accuracy"].append((correct / valid).item() if valid > 0 else 0.0)
        if mode == "train":
            mask = inputs.get("attention_mask")
            local = mask.sum() if mask is not None else torch.tensor(inputs["position_ids"].size(1))
            self._total_train_tokens += gather(local.to(logits.device)).sum().item() // self._tp_size
        metrics["num_tokens"] = [self._total_train_tokens]


def sft_trainer() -> type:
    from trl import SFTTrainer

    return type("SFTTrainer", (WritesWhileValidating, CompletionHead, SFTTrainer), {})


def seq2seq_trainer() -> type:
    return type("Seq2SeqTrainer", (WritesWhileValidating, Seq2SeqTrainer), {})
