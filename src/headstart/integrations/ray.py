"""Batch prediction on Ray: any saved headstart model (or its ONNX export) over a Ray Dataset.

Two ways in, one model load per Ray actor in both:

- :func:`predict_dataset` scores a Ray Dataset whose rows hold the task's input columns (``text``
  [+ ``text_pair``], ``tokens``, ``question`` + ``context``, ``input``) with ``map_batches`` and
  the stateful :class:`RowPredictor`; each output row is its input row's columns, then the
  prediction's. The workers read the data themselves (``ray.data.read_parquet`` and friends),
  so the corpus can be larger than any one machine.
- ``headstart predict DIR --input F --output O --ray [ADDRESS]`` (:func:`file_runner`) reads the
  file in this process with headstart's own readers (the same rows, bad-row reports and line
  numbers as without ``--ray``), hands its chunks to :class:`ChunkPredictor` actors (a few
  chunks ahead, so any file size streams) and writes their rows in file order: the output equals
  the single-process one.

Order: :func:`predict_dataset` keeps the input's order when the Dataset's context asks for it
(``DataContext.get_current().execution_options.preserve_order = True``), otherwise rows come back
as blocks finish, each row still beside its own input columns; the file path always keeps it.

Example::

    import ray
    from headstart.integrations.ray import predict_dataset

    ds = ray.data.read_parquet("s3://bucket/reviews/")
    predict_dataset(ds, "runs/sst2", batch_size=64).write_parquet("s3://bucket/scored/")
"""

from __future__ import annotations

import importlib.util
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from headstart.data.options import ReadOptions
from headstart.data.rows import Chunk, RowProblem
from headstart.data.stream import Record
from headstart.errors import ConfigError, DataError, HeadstartError, MissingDependencyError, ModelLoadError
from headstart.inference.batch import ChunkRunner, predict_chunk
from headstart.inference.predictor import Predictor, check_options
from headstart.tasks import get_task, read_model_info

logger = logging.getLogger(__name__)

# Seconds to wait for a Ray head's port before calling the address unreachable (ray.init itself
# retries a dead address for minutes).
CONNECT_SECONDS = 10.0
SOURCE = "the Ray dataset"
WORKER_LOAD = "a model directory every Ray worker can load"
SHARED = "put the directory on storage every node reads, at the same path"


def require_ray() -> Any:
    """The ``ray`` module with Ray Data, or a clear error naming the extra."""
    if importlib.util.find_spec("ray") is None or importlib.util.find_spec("ray.data") is None:
        raise MissingDependencyError(
            "Ray (with Ray Data) for --ray",
            found="ray not installed",
            fix="pip install 'headstart[ray]', or leave --ray out to predict in this process",
        )
    import ray

    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None) -> Any:
    """Join the Ray cluster at ``address`` ("auto": the one this machine is part of), or start a
    local one (``num_cpus`` CPUs, default all) when None; a Ray already joined is kept."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    if address and address != "auto":
        _check_reachable(address)
    try:
        ray.init(
            address=address or None,
            num_cpus=num_cpus if not address else None,
            include_dashboard=False,
            log_to_driver=False,  # the workers' logs stay in Ray's session directory; their errors come here
            logging_level=logging.WARNING,
            configure_logging=False,
        )
        _quiet(ray)
    except ConnectionError as exc:
        raise ConfigError(
            "a running Ray cluster at --ray " + (address or ""),
            found=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            fix="start one there (ray start --head), or give --ray alone for a local one",
        ) from None
    return ray


def _quiet(ray: Any) -> None:
    """No progress bars or per-operator status lines from Ray Data: headstart prints its summary."""
    from ray.data import DataContext

    logging.getLogger("ray.data").setLevel(logging.ERROR)
    DataContext.get_current().enable_progress_bars = False


def _check_reachable(address: str) -> None:
    """Refuse an address whose head port does not answer within CONNECT_SECONDS."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            "a Ray address as HOST:PORT, ray://HOST:PORT or auto",
            found=repr(address),
            fix="e.g. --ray 10.0.0.5:6379 (the head's GCS port), or --ray alone for a local cluster",
        )
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS):
            pass
    except OSError as exc:
        raise ConfigError(
            f"a Ray head answering at {address}",
            found=f"{exc.strerror or type(exc).__name__} (waited up to {CONNECT_SECONDS:.0f} s)",
            fix="check the address and port (ray status on the head prints them), or give --ray alone for a local one",
        ) from None


class _Loaded:
    """One Predictor per actor, loaded when Ray starts the actor."""

    def __init__(self, model: str, read: dict[str, Any], batch_size: int, options: dict[str, Any]) -> None:
        import transformers

        transformers.logging.set_verbosity_error()  # a progress bar per actor would fill the driver's log
        transformers.logging.disable_progress_bar()
        try:
            self.predictor = Predictor.load(model)
        except (HeadstartError, OSError) as exc:
            found = (exc.found if isinstance(exc, HeadstartError) else None) or str(exc)
            raise ModelLoadError(
                WORKER_LOAD, found=f"on {socket.gethostname()}: {found}", fix=SHARED, file=model
            ) from None
        self.rows = self.predictor.task.file_rows(self.predictor.info, ReadOptions(**read))
        self.batch_size = batch_size
        self.options = options


class RowPredictor(_Loaded):
    """``map_batches`` class for :func:`predict_dataset`: a batch of input rows (an Arrow table)
    to the same rows with their predictions."""

    def __call__(self, table: Any) -> Any:
        import pyarrow as pa

        records = [Record(SOURCE, i + 1, fields) for i, fields in enumerate(table.to_pylist())]
        inputs = []
        for rec in records:
            try:
                inputs.append(self.rows(rec, SOURCE))
            except RowProblem as exc:
                raise DataError(
                    "rows with the model's input columns",
                    found=f"{exc} in a row with columns {sorted(rec.fields)}",
                    fix="select or rename the columns (Dataset.rename_columns) before predicting",
                ) from None
        out: list[dict[str, Any]] = []
        for chunk in self.rows.chunks(iter([Chunk(records, inputs, [None] * len(records))])):
            out += predict_chunk(self.predictor, self.rows, chunk, self.batch_size, self.options)
        return pa.Table.from_pylist(out)


class ChunkPredictor(_Loaded):
    """The Ray actor of the file path: one chunk read by the driver, in; its output rows, out."""

    def predict(self, chunk: Chunk) -> list[dict[str, Any]]:
        return predict_chunk(self.predictor, self.rows, chunk, self.batch_size, self.options)


def predict_dataset(
    dataset: Any,
    model: str | Path,
    *,
    batch_size: int = 32,
    rows_per_call: int = 256,
    all_scores: bool = False,
    actors: int | None = None,
    read: ReadOptions | None = None,
    **options: Any,
) -> Any:
    """``dataset`` (a Ray Dataset of input rows) with each row's prediction added, lazily.

    Args:
        dataset: Rows with the model's input columns (as a file for ``headstart predict`` has them).
        model: A directory written by ``headstart train`` or ``headstart export``, readable by every worker.
        batch_size: Inputs per forward pass.
        rows_per_call: Rows handed to an actor at a time.
        all_scores: Include every label's score.
        actors: How many model copies score in parallel (default: one per CPU of the cluster).
        read: Column names, as ``ReadOptions`` (``text_column``, ...) when the rows use other names.
        options: The task's own prediction options (``decode`` for a tagger).
    """
    ray = require_ray()
    path = str(Path(model).resolve())
    info = read_model_info(path)
    check_options(get_task(info.task), info, options)
    args = (path, _read_dict(read), batch_size, {"all_scores": all_scores, **options})
    return dataset.map_batches(
        RowPredictor,
        fn_constructor_args=args,
        batch_size=rows_per_call,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=_actors(ray, actors)),
        num_cpus=1,
    )


def file_runner(model: str | Path, *, actors: int | None = None) -> ChunkRunner:
    """A ``predict_file`` runner that scores the file's chunks on Ray actors and gives their rows
    back in file order. The driver reads ahead only two chunks per actor, so memory stays bounded
    whatever the file's size, as without Ray."""
    ray = require_ray()
    path = str(Path(model).resolve())
    size = _actors(ray, actors)

    def run(chunks: Iterator[Chunk], read: ReadOptions, batch_size: int, options: dict[str, Any]) -> Iterator:
        from ray.util import ActorPool

        remote = ray.remote(num_cpus=1)(ChunkPredictor)
        started = [remote.remote(path, _read_dict(read), batch_size, options) for _ in range(size)]
        pool = ActorPool(started)
        ahead = 2 * len(started)  # every actor busy and one chunk waiting for each
        try:
            in_flight = 0
            for chunk in chunks:
                pool.submit(lambda actor, c: actor.predict.remote(c), chunk)
                in_flight += 1
                if in_flight == ahead:
                    yield pool.get_next()  # the oldest chunk's rows: file order
                    in_flight -= 1
            while pool.has_next():
                yield pool.get_next()
        except Exception as exc:
            raise _unwrapped(exc) from None
        finally:
            for actor in started:
                ray.kill(actor)

    return run


def _read_dict(read: ReadOptions | None) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(read or ReadOptions())


def _actors(ray: Any, wanted: int | None) -> int:
    """``wanted`` model copies, or one per CPU of the cluster."""
    if wanted is None:
        return max(1, int(ray.cluster_resources().get("CPU", 1)))
    if wanted < 1:
        raise ConfigError("at least 1 Ray actor (--ray-actors)", found=str(wanted), fix="raise it, or leave it out")
    return wanted


def _unwrapped(exc: Exception) -> Exception:
    """The headstart error a Ray worker raised, out of Ray's wrappers; else ``exc`` itself.
    A task's error keeps the original as its ``cause``; an actor that failed to start keeps only
    its text, whose last headstart error line is what it said."""
    seen: BaseException | None = exc
    for _ in range(8):
        if isinstance(seen, HeadstartError):
            return seen
        seen = getattr(seen, "cause", None) or getattr(seen, "__cause__", None)
        if seen is None:
            break
    said = [line for line in str(exc).splitlines() if line.startswith("headstart.errors.")]
    if said and getattr(exc, "actor_init_failed", False):
        message = said[-1].split(": ", 1)[-1]
        found = message.split("; found ", 1)[-1].removesuffix(f"; {SHARED}")
        return ModelLoadError("Ray workers that load the model", found=found, fix=SHARED)
    return exc


__all__ = ["ChunkPredictor", "RowPredictor", "connect", "file_runner", "predict_dataset", "require_ray"]
