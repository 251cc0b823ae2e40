"""A task added from outside headstart: one class and one registry call, no other module changed.

The task is a small one built on the contract alone: text classification that also reports how
long each input is, with its own configuration key, its own saved setting and its own prediction
field. Training, saving, loading, file prediction and the server take it as they take the
bundled tasks.
"""

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from headstart import Predictor, predict_file, train
from headstart.config import SECTIONS, RunConfig, apply_overrides, setting
from headstart.tasks import get_task, register, unregister
from headstart.tasks.text_classification.task import Settings as ClassificationSettings
from headstart.tasks.text_classification.task import TextClassification
from tests_support import SENTIMENT, tiny_run_config


@dataclass
class LengthConfig:
    length_unit: str = setting(
        "words", "How input lengths are counted: words or characters.", choices=("words", "chars")
    )


@dataclass
class LengthSettings(ClassificationSettings):
    length_unit: str = "words"


class LengthClassification:
    """Text classification whose predictions also say how long each input was."""

    name: ClassVar[str] = "length-classification"
    aliases: ClassVar[tuple[str, ...]] = ("lengths",)
    settings_type: ClassVar[type] = LengthSettings
    config_type: ClassVar[type] = LengthConfig
    config_checks: ClassVar[tuple] = ()

    def __init__(self) -> None:
        self.base = TextClassification()
        for name in ("pipeline_task", "long_inputs", "pre_split", "predict_options"):
            setattr(self, name, getattr(self.base, name))

    def __getattr__(self, name: str) -> Any:  # everything not written here is text classification's
        return getattr(self.base, name)

    def saved_settings(self, bundle: Any, cfg: Any) -> LengthSettings:
        settings = dataclasses.asdict(self.base.saved_settings(bundle, cfg))
        return LengthSettings(**settings, length_unit=cfg.task.length_unit)

    def predict(self, run: Any, inputs: Any, *, batch_size: int, all_scores: bool, **options: Any) -> list[Any]:
        out = self.base.predict(run, inputs, batch_size=batch_size, all_scores=all_scores)
        count = len if run.info.settings.length_unit == "chars" else (lambda t: len(t.split()))
        return [{**p, "length": count(text)} for p, text in zip(out, inputs)]


@pytest.fixture
def registered():
    before = [f.name for f in dataclasses.fields(SECTIONS["task"])]
    register(LengthClassification)
    yield
    unregister(LengthClassification.name)
    assert [f.name for f in dataclasses.fields(SECTIONS["task"])] == before, "the task section as it was"


def test_a_registered_task_is_a_task_type_with_its_own_key(registered):
    cfg = RunConfig()
    apply_overrides(cfg, ["task.type=lengths", "task.length_unit=chars"])
    assert cfg.task.type == "length-classification" and cfg.task.length_unit == "chars"
    assert isinstance(get_task("length-classification"), LengthClassification)


def test_a_registered_task_trains_saves_loads_and_predicts(registered, tiny_model_dir, tmp_path):
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", task={"type": "lengths", "length_unit": "chars"})
    result = train(cfg, train=SENTIMENT, validation=SENTIMENT)
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["task"] == "length-classification" and info["length_unit"] == "chars"
    predictor = Predictor.load(result.output_dir)
    [prediction] = predictor.predict(["great movie"])
    assert prediction["length"] == len("great movie") and prediction["label"] in ("pos", "neg")
    assert predictor.probabilities(["great movie"]).shape == (1, 2)  # the composed task's own methods
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": 7, "text": "awful film"}) + "\n")
    predict_file(predictor, tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    row = json.loads((tmp_path / "out.jsonl").read_text())
    assert row["id"] == 7 and row["length"] == len("awful film")
