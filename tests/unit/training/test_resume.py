"""Resuming an interrupted run: a real process killed with SIGKILL, re-run, same result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from headstart import train
from headstart.cli import main
from headstart.errors import ConfigError, OutputExistsError
from headstart.training.resume import WorkDir, last_complete_checkpoint, open_work_dir, resume_point
from headstart.training.sampler import EpochSeededLengthSampler
from tests_support import NEGATIVE, POSITIVE, ner_rows

ROOT = Path(__file__).resolve().parents[3]


def _rows(n: int) -> list[dict]:
    words = ["the", "plot", "acting", "film", "story", "so", "much", "and", "it"]
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        base = POSITIVE[i % 6] if i % 2 else NEGATIVE[i % 6]
        extra = " ".join(rng.choice(words, size=int(rng.integers(0, 12))))
        rows.append({"text": f"{base} {extra}".strip(), "label": "pos" if i % 2 else "neg"})
    return rows


def _write_csv(path: Path, rows: list[dict]) -> Path:
    path.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in rows))
    return path


def _command(tiny: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--model",
        str(tiny),
        "--train",
        str(data),
        "--validation",
        str(data),
        "-o",
        str(out),
        "--epochs",
        "3",
        "--batch-size",
        "4",
        "--set",
        "train.save_steps=15",
        "--set",
        "train.disable_tqdm=true",
        "--set",
        "train.logging_steps=5",
        *extra,
    ]


def test_epoch_order_depends_only_on_seed_and_epoch():
    lengths = [int(x) for x in np.random.default_rng(0).integers(1, 50, size=200)]
    a, b = EpochSeededLengthSampler(8, lengths, seed=3), EpochSeededLengthSampler(8, lengths, seed=3)
    a.set_epoch(2)
    torch.manual_seed(123)  # the global RNG plays no part
    b.set_epoch(2)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert list(a) != list(b) and sorted(a) == sorted(b) == list(range(200))


def _ner_file(path: Path, copies: int) -> Path:
    lines = []
    for row in ner_rows() * copies:
        lines += [f"{w} {t}" for w, t in zip(row["tokens"], row["tags"])] + [""]
    path.write_text("\n".join(lines))
    return path


@pytest.mark.parametrize(
    "task", ["text", pytest.param("ner-crf", marks=pytest.mark.slow), pytest.param("text-lora", marks=pytest.mark.slow)]
)
def test_kill_9_then_the_same_command_ends_as_if_uninterrupted(task, tmp_path, tiny_model_dir, caplog, capsys):
    if task.startswith("text"):  # 100 steps an epoch; with LoRA the checkpoints hold adapters (peft's)
        data, task_args = _write_csv(tmp_path / "train.csv", _rows(400)), ["--lora"] if task == "text-lora" else []
    else:
        data, task_args = _ner_file(tmp_path / "train.conll", 11), ["--task", "ner", "--crf"]  # 99 steps an epoch
    reference = tmp_path / "reference"
    assert main(_command(tiny_model_dir, data, reference, *task_args)) == 0

    out = tmp_path / "killed"
    work = tmp_path / ".killed.partial"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "headstart", *_command(tiny_model_dir, data, out, *task_args)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    # kill in the middle of the second epoch, once a mid-epoch checkpoint is complete
    while (ckpt := last_complete_checkpoint(work / "checkpoints")) is None or int(ckpt.name.split("-")[1]) < 120:
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists(), "an interrupted run must not leave a directory that looks complete"
    killed_at = last_complete_checkpoint(work / "checkpoints")
    assert killed_at is not None and int(killed_at.name.split("-")[1]) < 300

    # a changed command is refused, and the interrupted run survives it
    capsys.readouterr()
    assert main(_command(tiny_model_dir, data, out, *task_args, "--learning_rate", "1e-3")) == 2
    assert "train.learning_rate: 5e-05 then, 0.001 now" in capsys.readouterr().err
    assert last_complete_checkpoint(work / "checkpoints") == killed_at

    caplog.set_level("WARNING")
    assert main(_command(tiny_model_dir, data, out, *task_args, "--resume")) == 0
    assert any("resuming the interrupted run from" in r.message for r in caplog.records)
    assert not work.exists()
    info = json.loads((out / "headstart.json").read_text())
    assert info["resumed_from"] == killed_at.name and not (out / "checkpoints").exists()

    ours, theirs = (json.loads((d / "metrics.json").read_text()) for d in (out, reference))
    scalars = {k: v for k, v in theirs["validation"].items() if isinstance(v, float)}
    assert scalars and all(ours["validation"][k] == pytest.approx(v, abs=1e-9) for k, v in scalars.items())
    # the training losses logged after the resume point match the uninterrupted run step for step
    resumed_step = int(killed_at.name.split("-")[1])
    after = {h["step"]: h["loss"] for h in ours["history"] if "loss" in h and h["step"] > resumed_step}
    before = {h["step"]: h["loss"] for h in theirs["history"] if "loss" in h and h["step"] > resumed_step}
    assert after and after.keys() == before.keys()
    assert all(after[s] == pytest.approx(before[s], rel=1e-4) for s in after)
    a, b = load_file(out / "model.safetensors"), load_file(reference / "model.safetensors")
    assert all(np.allclose(a[k], b[k], atol=1e-6) for k in b)


def _config_of(tiny: Path, data: Path, out: Path, **train_cfg) -> dict:
    return {
        "model": {"name": str(tiny)},
        "data": {"train": str(data), "validation": str(data)},
        "train": {
            "output_dir": str(out),
            "num_train_epochs": 3,
            "per_device_train_batch_size": 4,
            "save_steps": 15,
            "disable_tqdm": True,
            "logging_steps": 5,
            **train_cfg,
        },
    }


def test_resume_without_an_interrupted_run_is_an_error(tmp_path, tiny_model_dir):
    data = _write_csv(tmp_path / "train.csv", _rows(20))
    with pytest.raises(ConfigError, match="an interrupted run to continue"):
        train(_config_of(tiny_model_dir, data, tmp_path / "m", resume=True))
    assert list(p.name for p in tmp_path.iterdir()) == ["train.csv"]


def test_a_second_run_on_the_same_output_is_refused(tmp_path):
    first = open_work_dir(tmp_path / "m")
    try:
        with pytest.raises(OutputExistsError, match=f"a run \\(pid {os.getpid()}\\) is training into it now"):
            open_work_dir(tmp_path / "m")
    finally:
        first.release()
    open_work_dir(tmp_path / "m").release()  # free again once the first has finished


def test_a_checkpoint_cut_short_is_not_resumed_from(tmp_path):
    for step, state in ((10, '{"global_step": 10}'), (20, '{"global_st')):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-10"


def _interrupted(tmp_path: Path, recorded: dict) -> WorkDir:
    work = open_work_dir(tmp_path / "m")
    (work.checkpoints / "checkpoint-5").mkdir(parents=True)
    (work.checkpoints / "checkpoint-5" / "trainer_state.json").write_text('{"global_step": 5}')
    (work.path / "run.json").write_text(json.dumps(recorded))
    return work


def test_a_run_started_before_a_setting_existed_resumes_while_it_stays_at_its_default(tmp_path):
    defaults = {"train": {"seed": 42, "new_setting": None}}
    older = {"config": {"train": {"seed": 42}}, "labels": ["a", "b"]}
    work = _interrupted(tmp_path, older)
    try:
        now = {"config": {"train": {"seed": 42, "new_setting": None}}, "labels": ["a", "b"]}
        assert resume_point(work, now, required=True, defaults=defaults) == work.checkpoints / "checkpoint-5"
        changed = {"config": {"train": {"seed": 42, "new_setting": True}}, "labels": ["a", "b"]}
        with pytest.raises(ConfigError, match=r"train\.new_setting: None then, True now"):
            resume_point(work, changed, required=True, defaults=defaults)
        # without the defaults the unrecorded setting is named, not reported as an unreadable file
        with pytest.raises(ConfigError, match=r"train\.new_setting: not recorded then") as raised:
            resume_point(work, now, required=True)
        assert "no readable" not in str(raised.value)
    finally:
        work.release()
