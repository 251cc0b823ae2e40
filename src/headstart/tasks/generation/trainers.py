"""The ecosystem's trainers, validating by writing: TRL's SFTTrainer (decoders) and transformers'
Seq2SeqTrainer (encoder-decoders), each scoring a sample of written validation outputs beside the
validation loss, in the same evaluation (its metrics pick the best checkpoint and are logged).

Only the loss is collected from the validation batches: the logits of a whole validation set are
[rows, length, vocabulary], and TRL would run a second forward pass to build them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transformers import Seq2SeqTrainer


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


def sft_trainer() -> type:
    from trl import SFTTrainer

    return type("SFTTrainer", (WritesWhileValidating, SFTTrainer), {})


def seq2seq_trainer() -> type:
    return type("Seq2SeqTrainer", (WritesWhileValidating, Seq2SeqTrainer), {})
