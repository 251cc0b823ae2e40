"""One test per user-facing error message not covered next to its module's other tests."""

import json
import shutil

import pytest

from headstart import Predictor, RunConfig, evaluate, train
from headstart.artifacts import check_output_dir
from headstart.cli import main
from headstart.config import DataConfig
from headstart.data import load_examples, load_splits, read_table
from headstart.errors import ConfigError, DataError, LabelError, ModelLoadError, OutputExistsError
from headstart.tasks import get_task, read_model_info
from tests_support import SENTIMENT


@pytest.fixture(scope="module")
def pair_model(tmp_path_factory, tiny_model_dir):
    rows = [{"sentence1": r["text"], "sentence2": "the film", "label": r["label"]} for r in SENTIMENT]
    cfg = {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "train": {
            "output_dir": str(tmp_path_factory.mktemp("pair") / "m"),
            "num_train_epochs": 1,
            "eval_strategy": "no",
            "disable_tqdm": True,
        },
    }
    return train(cfg, train=rows, validation=rows).output_dir


def test_single_texts_for_a_pair_model(pair_model):
    with pytest.raises(DataError, match=r"expected \(text, text_pair\) inputs"):
        Predictor.load(pair_model).predict(["just one text"])


def test_evaluate_single_texts_on_a_pair_model(pair_model, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\ngreat,pos\n")
    with pytest.raises(DataError, match="expected text pairs, as the model was trained on"):
        evaluate(pair_model, path)


def test_unsupported_predictor_input(pair_model):
    with pytest.raises(DataError, match=r"input 1: expected a text, a \(text, text_pair\) tuple"):
        Predictor.load(pair_model).predict([42])


def test_cli_pair_count_and_output_suffix(pair_model, capsys):
    assert main(["predict", str(pair_model), "a", "b", "--text-pair", "c"]) == 2
    assert "one --text-pair per TEXT (2)" in capsys.readouterr().err
    assert main(["predict", str(pair_model), "a", "--text-pair", "c", "--output", "x.txt"]) == 2
    assert "ending in .jsonl or .csv" in capsys.readouterr().err


def test_saved_directory_problems(pair_model, tmp_path):
    with pytest.raises(ModelLoadError, match="directory saved by headstart"):
        read_model_info(tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(pair_model, broken)
    (broken / "headstart.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="valid headstart.json.*KeyError"):
        Predictor.load(broken)
    (broken / "headstart.json").write_text((pair_model / "headstart.json").read_text())
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="a complete saved model directory"):
        Predictor.load(broken)


def test_output_dir_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputExistsError, match="found a file at"):
        check_output_dir(tmp_path / "f", overwrite=True)


def test_overwrite_replaces_only_when_asked(tmp_path, tiny_model_dir):
    out = tmp_path / "m"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    cfg = {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "train": {
            "output_dir": str(out),
            "num_train_epochs": 1,
            "overwrite_output_dir": True,
            "eval_strategy": "no",
            "disable_tqdm": True,
        },
    }
    train(cfg, train=SENTIMENT)
    assert (out / "headstart.json").is_file() and not (out / "notes.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["m"], "no staging or backup directory left behind"


def test_unknown_positive_label(tmp_path, tiny_model_dir):
    cfg = {
        "model": {"name": str(tiny_model_dir)},
        "task": {"positive_label": "meh"},
        "train": {"output_dir": str(tmp_path / "m")},
    }
    with pytest.raises(LabelError, match=r"task.positive_label among \['neg', 'pos'\]"):
        train(cfg, train=SENTIMENT)


def test_unknown_task_and_bad_config_shape():
    with pytest.raises(ConfigError, match="expected a task among text-classification"):
        get_task("poetry")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        RunConfig.from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="section 'train' must be a mapping"):
        RunConfig.from_dict({"train": 3})


def test_in_memory_shapes():
    with pytest.raises(DataError, match="columns of equal length"):
        load_examples({"text": ["a", "b"], "label": [1]})
    with pytest.raises(DataError, match="expected a file path, a pandas DataFrame"):
        load_examples(42)


def test_no_training_data():
    with pytest.raises(DataError, match="expected training data; found none; pass --train FILE"):
        load_splits(DataConfig())


def test_unknown_encoding_and_bad_parquet(tmp_path):
    (tmp_path / "a.csv").write_text("text,label\na,1\n")
    with pytest.raises(DataError, match="a known text encoding"):
        read_table(tmp_path / "a.csv", encoding="klingon")
    (tmp_path / "b.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="b.parquet: expected a readable parquet file"):
        read_table(tmp_path / "b.parquet")


def test_json_of_the_wrong_shape(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"a": 1}))
    with pytest.raises(DataError, match="expected a JSON list of objects"):
        read_table(tmp_path / "a.json")
    (tmp_path / "b.json").write_text("{oops")
    with pytest.raises(DataError, match=r"b.json:1: expected valid JSON"):
        read_table(tmp_path / "b.json")
