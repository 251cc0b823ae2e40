"""The CLI end to end in a subprocess-free way (main(argv)), plus one real subprocess for exit codes."""

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest

from headstart.cli import build_parser, config_from_args, main
from tests_support import SENTIMENT


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    lines = ["text,label"] + [f"{r['text']},{r['label']}" for r in SENTIMENT]
    (root / "train.csv").write_text("\n".join(lines) + "\n")
    (root / "new.jsonl").write_text('{"text": "great fun"}\n{"text": "boring waste"}\n')
    return root


@pytest.fixture(scope="module")
def cli_model(tmp_path_factory, tiny_model_dir, data_files):
    out = tmp_path_factory.mktemp("cli") / "model"
    code = main(
        [
            "train",
            "--model",
            str(tiny_model_dir),
            "--train",
            str(data_files / "train.csv"),
            "--validation",
            str(data_files / "train.csv"),
            "-o",
            str(out),
            "--epochs",
            "20",
            "--learning_rate",
            "3e-3",
            "--batch-size",
            "4",
            "--set",
            "train.warmup_steps=0",
            "--set",
            "train.eval_strategy=no",
            "--disable_tqdm",
            "--max_length",
            "32",
        ]
    )
    assert code == 0
    return out


def test_help_lists_commands_and_hf_named_flags(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--learning_rate",
        "--num_train_epochs",
        "--per_device_train_batch_size",
        "--model",
        "--set",
        "--overwrite",
        "--text_column",
        "--early_stopping_patience",
        "--dropout_implementation",
    ):
        assert flag in out
    text = " ".join(out.split())
    assert "(0.1: 10 %)" in text  # a literal % in a config help is escaped, not %-formatted
    assert "Total number of training epochs to perform." in text  # HF's own help for HF's fields


def test_every_command_has_help(capsys):
    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert len(subcommands.choices) >= 5
    for name in subcommands.choices:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0, name
        assert "usage:" in capsys.readouterr().out


def test_flag_precedence(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("train:\n  learning_rate: 1.0e-4\n  seed: 3\nmodel:\n  name: bert-tiny\n")
    args = build_parser().parse_args(
        ["train", "--config", str(cfg_file), "--learning-rate", "2e-4", "--set", "train.seed=9", "--bf16"]
    )
    cfg = config_from_args(args)
    assert (cfg.model.name, cfg.train.learning_rate, cfg.train.seed, cfg.train.bf16) == ("bert-tiny", 2e-4, 9, True)


def test_calibrate_and_attention_dropout_flags(tmp_path):
    cfg = config_from_args(build_parser().parse_args(["train", "--calibrate", "false", "--attention_dropout", "auto"]))
    assert (cfg.task.calibrate, cfg.model.attention_dropout) == (False, "auto")
    cfg = config_from_args(build_parser().parse_args(["train", "--attention_dropout", "0.1"]))
    assert (cfg.task.calibrate, cfg.model.attention_dropout) == (True, 0.1)


def test_train_writes_the_model_directory(cli_model, capsys):
    assert (cli_model / "headstart.json").is_file() and (cli_model / "model.safetensors").is_file()


def test_predict_texts_prints_jsonl(cli_model, capsys):
    assert main(["predict", str(cli_model), "great fun", "boring waste"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["text"] for r in rows] == ["great fun", "boring waste"]
    assert {r["label"] for r in rows} <= {"pos", "neg"} and all(0 < r["score"] <= 1 for r in rows)


def test_decode_is_refused_for_a_classifier(cli_model, capsys):
    assert main(["predict", str(cli_model), "great fun", "--decode", "argmax"]) == 2
    err = capsys.readouterr().err
    assert "--decode only for a token-classification model" in err and "text-classification" in err


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_predict_file_to_file(cli_model, data_files, tmp_path, suffix):
    out = tmp_path / f"preds{suffix}"
    assert (
        main(
            ["predict", str(cli_model), "--input", str(data_files / "new.jsonl"), "--output", str(out), "--all-scores"]
        )
        == 0
    )
    text = out.read_text()
    assert (
        "great fun" in text and "scores" in text and len(text.strip().splitlines()) == (2 if suffix == ".jsonl" else 3)
    )


def test_evaluate_prints_and_writes_metrics(cli_model, data_files, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["evaluate", str(cli_model), "--data", str(data_files / "train.csv"), "--output", str(out)]) == 0
    assert json.loads(out.read_text())["accuracy"] == 1.0


def test_embed_writes_npy(tiny_model_dir, data_files, tmp_path):
    out = tmp_path / "x.npy"
    assert (
        main(
            [
                "embed",
                "--model",
                str(tiny_model_dir),
                "--input",
                str(data_files / "new.jsonl"),
                "--output",
                str(out),
                "--pooling",
                "cls",
            ]
        )
        == 0
    )
    assert np.load(out).shape == (2, 32)


def test_init_config_writes_and_refuses_to_overwrite(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    assert main(["init-config", str(path)]) == 0
    assert "learning_rate" in path.read_text()
    assert main(["init-config", str(path)]) == 2
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--set", "train.learning_rat=1"], "did you mean 'learning_rate'"),
        (["train", "--train", "/nonexistent.csv"], "found nothing at /nonexistent.csv"),
        (["train", "--epochs", "zero"], "num_train_epochs must be a finite number"),
        (["train", "--learning_rate", "nan"], "learning_rate must be a finite number, found 'nan'"),
        (["predict", "/nonexistent-model", "hi"], "expected a saved model directory"),
        (["predict", "/tmp"], "one of: TEXT arguments, --input FILE, or a model's input fields"),
        (["embed", "--input", "x.csv", "--output", "x.txt"], "ending in .npy"),
    ],
)
def test_user_errors_exit_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]
    assert not any("Traceback" in line for line in err)


@pytest.mark.slow
def test_existing_output_dir_exit_code_in_a_real_process(cli_model, data_files):
    proc = subprocess.run(
        [sys.executable, "-m", "headstart", "train", "--train", str(data_files / "train.csv"), "-o", str(cli_model)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "already holds files" in proc.stderr and "--overwrite" in proc.stderr and "Traceback" not in proc.stderr


def test_check_prints_the_data_checks_without_training(tmp_path, tiny_model_dir, capsys):
    (tmp_path / "train.csv").write_text("text,label\ngreat fun,pos\nboring waste,neg\ngreat fun,pos\n")
    (tmp_path / "dev.csv").write_text("text,label\nGreat fun!,pos\nsomething new,neg\n")
    args = ["check", "--model", str(tiny_model_dir), "--train", str(tmp_path / "train.csv")]
    args += ["--validation", str(tmp_path / "dev.csv"), "--output", str(tmp_path / "checks.json")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "train labels: neg 1, pos 2" in out and "train tokens: median" in out
    assert "warning: train: 1 exact duplicate of an earlier text in this split" in out and "train.csv:4)" in out
    assert "warning: validation: 1 text (50.0%) also in train" in out
    saved = json.loads((tmp_path / "checks.json").read_text())
    assert {f["check"] for f in saved["findings"]} == {"duplicates", "leakage"}
    assert main([*args, "--strict"]) == 1
    assert not any(p.name.startswith(".") or p.is_dir() for p in tmp_path.iterdir()), "nothing trained or saved"
