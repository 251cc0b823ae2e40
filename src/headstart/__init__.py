"""headstart: fine-tune a pretrained Transformer on your labeled text, evaluate it, save it, run it.

>>> import headstart
>>> cfg = headstart.RunConfig()
>>> cfg.model.name
'minilm'
"""

from headstart.config import RunConfig, load_config  # noqa: E402
from headstart.data import Examples, LabelSet, load_examples, load_splits  # noqa: E402
from headstart.data.tokens import TokenExamples, read_token_file  # noqa: E402
from headstart.errors import (  # noqa: E402
    ConfigError,
    DataError,
    HeadstartError,
    LabelError,
    ModelLoadError,
    OutputExistsError,
)
from headstart.evaluation.evaluate import evaluate  # noqa: E402
from headstart.inference.batch import BatchSummary, predict_file  # noqa: E402
from headstart.inference.embeddings import Embedder, embed  # noqa: E402
from headstart.inference.predictor import Predictor  # noqa: E402

TokenPredictor = Predictor  # one Predictor serves every task now; the old name keeps working
from headstart.models import BUNDLED, resolve_model  # noqa: E402
from headstart.training.distill import distill  # noqa: E402
from headstart.training.run import TrainResult, check, train  # noqa: E402
from headstart.training.search import TuneResult, tune  # noqa: E402
from headstart.version import __version__  # noqa: E402

__all__ = [
    "BUNDLED",
    "BatchSummary",
    "ConfigError",
    "DataError",
    "Embedder",
    "Examples",
    "HeadstartError",
    "LabelError",
    "LabelSet",
    "ModelLoadError",
    "OutputExistsError",
    "Predictor",
    "RunConfig",
    "TokenExamples",
    "TokenPredictor",
    "TrainResult",
    "TuneResult",
    "check",
    "distill",
    "__version__",
    "embed",
    "evaluate",
    "load_config",
    "load_examples",
    "load_splits",
    "predict_file",
    "read_token_file",
    "resolve_model",
    "train",
    "tune",
]
