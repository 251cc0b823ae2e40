"""LoRA through peft: low-rank adapters on the backbone, the task's head trained whole.

The adapters go on the modules the quirks table names for the architecture (``lora_targets``),
else on peft's defaults for the type. The head — whatever the task put beside the backbone — is
in ``modules_to_save``, except for a generating model, whose output layer is the pretrained
one: SmolLM2 and GPT-2 tie it to the input embeddings, and a trained copy of it would be saved
with the wrong tying flag (transformers#45127, peft#2972). Merged for saving, the model is a
plain transformers model again; saved unmerged (``model.merge: false``), the directory keeps the
adapters and the trained config, and ``load_adapted`` rebuilds the model on the base weights.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from headstart.errors import ConfigError, HeadstartError, MissingDependencyError, ModelLoadError
from headstart.modeling.backbones import quirks_for

logger = logging.getLogger(__name__)

ADAPTER_DIR = "adapter"  # the adapters alone, beside the merged model


def lora_targets(config: Any, asked: str | list | None) -> str | list[str]:
    """The module names to adapt: the ones asked for, the quirks table's, or peft's default."""
    if isinstance(asked, str) and "," in asked:  # the command line's q_proj,v_proj
        asked = [name.strip() for name in asked.split(",") if name.strip()]
    if asked is not None:
        return asked if isinstance(asked, str) else [str(name) for name in asked]
    row = quirks_for(config).lora_targets
    if row is not None:
        return list(row)
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_DEFAULTS

    found = PEFT_DEFAULTS.get(getattr(config, "model_type", ""))
    if found is None:
        raise ConfigError(
            f"model.lora_target_modules for a '{config.model_type}' model (neither headstart nor peft knows its "
            "attention's module names)",
            found="none given",
            fix="name them, e.g. --lora-target-modules all-linear",
        )
    return list(found)


def head_modules(model: Any) -> list[str]:
    """The model's parts beside its backbone that own weights (the task's head): trained whole.
    The backbone is the part holding the token embeddings, whatever the model calls it.

    None for a generating model (its output layer is pretrained, and often tied to the input)."""
    import torch

    if getattr(model, "can_generate", lambda: False)():
        return []
    embedding = next((m for m in model.modules() if isinstance(m, torch.nn.Embedding)), None)
    out = []
    for name, child in model.named_children():
        if not any(True for _ in child.parameters()):
            continue
        if embedding is not None and any(m is embedding for m in child.modules()):
            continue  # the backbone
        out.append(name)
    return out


def with_lora(model: Any, cfg: Any) -> Any:
    """``model`` with adapters (a peft ``PeftModel``); only they and the head train."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise ConfigError(
            "the peft package for model.lora", found="it is not installed", fix="pip install 'headstart[lora]'"
        ) from None
    targets = lora_targets(model.config, cfg.lora_target_modules)
    heads = head_modules(model)
    config = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        modules_to_save=heads or None,
        base_model_name_or_path=getattr(model.config, "_name_or_path", None),
    )
    try:
        adapted = get_peft_model(model, config)
    except ValueError as exc:  # a target name the model does not have
        raise ConfigError(
            "model.lora_target_modules naming modules of this model",
            found=str(exc).splitlines()[0][:300],
            fix="name modules the model has (print(model) lists them), or leave it null",
        ) from None
    trainable, total = adapted.get_nb_trainable_parameters()
    logger.info(
        "LoRA r=%d on %s (head trained whole: %s): %.2f M of %.1f M weights train",
        cfg.lora_r,
        targets,
        ", ".join(heads) or "none",
        trainable / 1e6,
        total / 1e6,
    )
    return adapted


def is_adapted(model: Any) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "merge_and_unload")


def merged(model: Any) -> Any:
    """The plain model with the adapters folded into its weights."""
    return model.merge_and_unload()


def adapter_record(model: Any, merge: bool) -> dict[str, Any]:
    """What headstart.json says of the adapters: where they are, whether the weights beside them are
    merged, and the base model they go on."""
    config = model.peft_config[model.active_adapter]
    return {"dir": ADAPTER_DIR, "merged": merge, "base": config.base_model_name_or_path, "r": config.r}


def refresh_saved_head(adapter_dir: Path, model: Any) -> None:
    """Write the head as it is now (after a folded temperature, say) over the copy saved with the
    adapters at the end of training, so that loading them gives the scores the model gives."""
    from safetensors.torch import load_file, save_file

    file = adapter_dir / "adapter_model.safetensors"
    if not file.is_file():
        return
    saved, state = load_file(str(file)), model.state_dict()
    changed = False
    for key in saved:
        name = key.removeprefix("base_model.model.")
        if "lora_" not in key and name in state and not saved[key].equal(state[name]):
            saved[key], changed = state[name].detach().contiguous().clone(), True
    if changed:
        save_file(saved, str(file), metadata={"format": "pt"})


def load_adapted(task: Any, path: str | Path, info: Any) -> Any:
    """A directory saved with ``model.merge: false``: the task's model built from the base model's
    weights and the saved config (labels, head), then peft's adapters and head on it, merged."""
    try:
        from peft import PeftModel
    except ImportError:
        raise MissingDependencyError(
            "the peft package to load LoRA adapters saved apart (model.merge: false)",
            found="it is not installed",
            fix="pip install 'headstart[lora]'",
        ) from None
    from transformers import AutoConfig, GenerationConfig

    from headstart.models import resolve_model

    path = Path(path)
    try:
        base = resolve_model(info.base_model)
        model = task.load_model(base, info, config=AutoConfig.from_pretrained(path))
    except HeadstartError:
        raise
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"the base model the adapters were trained on ({info.base_model}), reachable from here",
            found=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
            fix="install or download that model, or train with --merge true for a directory that stands alone",
            file=path,
        ) from None
    model = PeftModel.from_pretrained(model, str(path / info.adapters.get("dir", ADAPTER_DIR))).merge_and_unload()
    if (path / "generation_config.json").is_file():
        model.generation_config = GenerationConfig.from_pretrained(path)
    return model
