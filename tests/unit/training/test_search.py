"""headstart tune: the search space and budget parsing, a real optuna search on the tiny model
within its budget, the saved model of the best settings with the trials in its report, and an
interrupted search continued by running it again."""

import json

import pytest

from headstart import evaluate, tune
from headstart.cli import main
from headstart.config import RunConfig
from headstart.errors import ConfigError
from headstart.training import search
from headstart.training.search import parse_duration, parse_space
from headstart.training.trainer import HeadstartTrainer
from tests_support import SENTIMENT, tiny_run_config

SPACE = {"learning_rate": {"low": 1e-3, "high": 5e-3, "log": True}, "num_train_epochs": {"choices": [2, 3]}}


def test_durations():
    assert [parse_duration(x) for x in ("30m", "1h30m", "90s", "2h", "45", 12.5)] == [1800, 5400, 90, 7200, 45, 12.5]
    for bad in ("", "soon", "-5m", "0", "1d"):
        with pytest.raises(ConfigError, match="time budget"):
            parse_duration(bad)


def test_the_sampler_models_trials_once_a_third_of_what_the_budget_holds_has_run():
    import optuna

    cfg = RunConfig()
    cfg.train.num_train_epochs = 3
    # 1,000 tokens a second: an epoch of 60,000 tokens and its scoring take 80 s, a trial 240 s
    budget = search._Budget(1800, 0.0, search.time.monotonic(), 60_000, 60_000, 1000.0)
    assert budget.estimate(cfg) == pytest.approx(240)
    assert budget.scoring() == pytest.approx(40)  # validation and test scored once more for the saved model
    assert budget.trials_that_fit(cfg) == 7  # 1,800 s less those 40
    assert search._sampler(optuna, 0, 6)._n_startup_trials == 2
    assert search._sampler(optuna, 0, 18)._n_startup_trials == 6
    assert search._sampler(optuna, 0, 300)._n_startup_trials == 10  # optuna's own default, at most
    assert search._sampler(optuna, 0, 0)._n_startup_trials == 2
    budget.seconds = 100
    assert budget.trials_that_fit(cfg) == 0


def test_the_search_space_reports_every_problem_at_once(tmp_path):
    params = {p.name: p for p in parse_space(None, RunConfig())}
    assert set(params) == {
        "learning_rate",
        "num_train_epochs",
        "per_device_train_batch_size",
        "warmup_steps",
        "weight_decay",
        "attention_dropout",
    }
    assert params["learning_rate"].log and params["attention_dropout"].section == "model"
    bad = {
        "learning_rat": {"low": 1, "high": 2},
        "weight_decay": {"low": 0.2, "high": 0.1},
        "seed": "x",
        "warmup_steps": {"low": 0, "high": 1, "step": 2},
    }
    with pytest.raises(ConfigError) as info:
        parse_space(bad, RunConfig())
    message = str(info.value)
    for part in (
        "learning_rat: not a train or model setting",
        "weight_decay: low < high",
        "seed: expected",
        "warmup_steps: unknown keys ['step']",
    ):
        assert part in message
    file = tmp_path / "space.yaml"
    file.write_text("learning_rate: {low: 1.0e-5, high: 1.0e-4, log: true}\nnum_train_epochs: [2, 3]\n")
    assert [p.name for p in parse_space(file, RunConfig())] == ["learning_rate", "num_train_epochs"]
    file.write_text("learning_rate: [unclosed\n")
    with pytest.raises(ConfigError, match="space.yaml"):
        parse_space(file, RunConfig())


def _cfg(tiny_model_dir, out, **train):
    cfg = tiny_run_config(tiny_model_dir, out, num_train_epochs=2, **train)
    cfg["train"]["eval_strategy"] = "epoch"
    return cfg


def test_tune_searches_within_the_budget_and_saves_the_best_settings(tiny_model_dir, tmp_path):
    out = tmp_path / "tuned"
    result = tune(
        _cfg(tiny_model_dir, out), time_budget="3m", n_trials=3, space=SPACE, train=SENTIMENT, validation=SENTIMENT[::2]
    )
    record = result.search
    done = [t for t in record["trials"] if t["state"] == "complete"]
    assert len(done) == 3 and record["seconds"] < 180
    assert record["trials"][0]["params"] == {"learning_rate": 3e-3, "num_train_epochs": 2}, (
        "the run's own settings first"
    )
    assert result.best_params == record["best"]["params"]
    info = json.loads((out / "headstart.json").read_text())
    assert info["config"]["train"]["learning_rate"] == pytest.approx(result.best_params["learning_rate"])
    assert info["search"]["best"] == record["best"]
    assert (out / "tune" / "study.db").is_file() and json.loads((out / "tune" / "trials.json").read_text())["trials"]
    assert not (tmp_path / ".tuned.tune").exists(), "the work folder goes once the model is saved"
    page = (out / "report.html").read_text()
    assert "Hyper-parameter search" in page and (out / "search_history.png").is_file()
    assert "settings chosen by `headstart tune`" in (out / "README.md").read_text()


@pytest.mark.slow
def test_an_interrupted_search_continues_with_its_trials_and_time(tiny_model_dir, tmp_path, monkeypatch):
    out = tmp_path / "tuned"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(search, "run_training", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tune(
            _cfg(tiny_model_dir, out),
            time_budget="3m",
            n_trials=2,
            space=SPACE,
            train=SENTIMENT,
            validation=SENTIMENT[::2],
        )
    assert (tmp_path / ".tuned.tune" / "study.db").is_file() and not out.exists()
    monkeypatch.undo()
    result = tune(
        _cfg(tiny_model_dir, out), time_budget="3m", n_trials=1, space=SPACE, train=SENTIMENT, validation=SENTIMENT[::2]
    )
    states = {t["number"]: t["state"] for t in result.search["trials"]}
    # the first run: trials 0 and 1, then 2 was not started (n_trials); the second run: trial 3
    assert states == {0: "complete", 1: "complete", 2: "skipped", 3: "complete", 4: "skipped"}
    assert result.search["seconds"] > result.search["trials"][0]["seconds"], "the first run's time is counted"


def test_tune_refuses_a_budget_without_room_and_no_trials(tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"a time budget that holds one trial and scoring its model"):
        tune(
            _cfg(tiny_model_dir, tmp_path / "a"),
            time_budget="0.01s",
            space=SPACE,
            train=SENTIMENT,
            validation=SENTIMENT,
        )
    with pytest.raises(ConfigError, match="n_trials of at least 1"):
        tune(_cfg(tiny_model_dir, tmp_path / "c"), n_trials=0, train=SENTIMENT)


def test_the_tune_command(tiny_model_dir, tmp_path, capsys):
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in SENTIMENT))
    space = tmp_path / "space.yaml"
    space.write_text("learning_rate: {low: 1.0e-3, high: 5.0e-3}\n")
    out = tmp_path / "cli"
    argv = [
        "tune",
        "--model",
        str(tiny_model_dir),
        "--train",
        str(data),
        "--validation",
        str(data),
        "-o",
        str(out),
        "--trials",
        "2",
        "--time-budget",
        "3m",
        "--space",
        str(space),
        "--max_length",
        "32",
        "--epochs",
        "2",
        "--set",
        "train.learning_rate=0.003",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "best validation accuracy" in printed and f"saved to {out}" in printed


def _count_final_steps(monkeypatch) -> dict[str, int]:
    """{"final": n}: the training steps taken after the search, by the run that saves the model."""
    steps = {"final": 0}
    real_step, real_run = HeadstartTrainer.training_step, search.run_training
    searching = {"on": True}

    def counted(self, *args, **kwargs):
        steps["final"] += not searching["on"]
        return real_step(self, *args, **kwargs)

    def final_run(*args, **kwargs):
        searching["on"] = False
        return real_run(*args, **kwargs)

    monkeypatch.setattr(HeadstartTrainer, "training_step", counted)
    monkeypatch.setattr(search, "run_training", final_run)
    return steps


def _regression_search(tiny_model_dir, out):
    rows = [
        {"text": r["text"], "rating": (4.0 if r["label"] == "pos" else 1.0) + 0.1 * (i % 6)}
        for i, r in enumerate(SENTIMENT * 2)
    ]
    cfg = tiny_run_config(tiny_model_dir, out, task={"type": "regression"}, num_train_epochs=2)
    cfg["train"]["eval_strategy"] = "epoch"
    space = {"learning_rate": {"low": 1e-4, "high": 1e-3, "log": True}, "num_train_epochs": [2, 3]}
    return lambda: tune(cfg, time_budget="3m", n_trials=3, space=space, train=rows[:16], validation=rows[16:])


def test_the_saved_model_is_the_best_trial_s_own_not_trained_again(tiny_model_dir, tmp_path, monkeypatch):
    """The best trial's checkpoints become the final run's, resumed at their end: the saved model
    is scored and saved without a training step, and scores what its trial scored."""
    steps = _count_final_steps(monkeypatch)
    result = _regression_search(tiny_model_dir, tmp_path / "out")()
    record = result.search
    assert record["metric"] == "mse" and record["direction"] == "minimize"
    done = [t for t in record["trials"] if t["state"] == "complete"]
    assert record["best"]["value"] == min(t["value"] for t in done)
    assert record["kept_trial"]["number"] == record["best"]["number"]
    assert steps["final"] == 0, "the kept trial is not trained again"
    assert result.metrics["validation"]["mse"] == pytest.approx(record["best"]["value"], rel=1e-5)
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["train_seconds"] == record["kept_trial"]["train_seconds"] > 0 and info.get("resumed_from") is None
    assert info["throughput"]["real_tokens"] > 0, "the trial's own steps"
    assert not list(tmp_path.glob(".out.*")), "no checkpoints or trials are left beside the model"
    assert "that trial's own" in (result.output_dir / "README.md").read_text()


def test_without_the_best_trial_s_checkpoints_its_settings_are_trained_again_to_the_same_score(
    tiny_model_dir, tmp_path, monkeypatch
):
    """Seeded alike (before the head's init and after it, as the Trainer's __init__ does), the
    final run of the best settings reproduces the trial's validation score, not a new draw of it."""
    monkeypatch.setattr(search, "last_complete_checkpoint", lambda path: None)
    result = _regression_search(tiny_model_dir, tmp_path / "out")()
    assert result.search["kept_trial"] is None
    assert result.metrics["validation"]["mse"] == pytest.approx(result.search["best"]["value"], rel=1e-5)
    assert "trained again" in (result.output_dir / "README.md").read_text()


@pytest.mark.slow
def test_no_trial_is_pruned_on_its_first_epoch(tiny_model_dir, tmp_path):
    """Runs on small sets often predict the majority label after one epoch and recover after the
    next, so the pruner first compares trials after epoch 2."""
    rows = [
        {"text": r["text"], "rating": (4.0 if r["label"] == "pos" else 1.0) + 0.1 * (i % 6)}
        for i, r in enumerate(SENTIMENT * 2)
    ]
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", task={"type": "regression"}, num_train_epochs=3)
    cfg["train"]["eval_strategy"] = "epoch"
    space = {"learning_rate": {"choices": [3e-3, 1e-7]}, "num_train_epochs": [3]}
    result = tune(cfg, time_budget="5m", n_trials=6, space=space, train=rows[:16], validation=rows[16:])
    ran = [t for t in result.search["trials"] if t["state"] != "skipped"]
    pruned = [t for t in ran if t["state"] == "pruned"]
    assert len(ran) == 6, "n_trials counts the pruned trials too, as optuna does"
    assert pruned, "a learning rate of 1e-7 falls behind and is pruned"
    assert {t["epochs_scored"] for t in pruned} == {search.PRUNE_FROM_EPOCH}


def test_a_drawn_trial_too_long_for_the_time_left_is_skipped_and_a_shorter_one_drawn(
    tiny_model_dir, tmp_path, monkeypatch
):
    """Only 2-epoch trials fit here: 3-epoch draws are skipped without ending the search, which
    ends once n_trials have run (or once even the fewest epochs would not fit)."""
    monkeypatch.setattr(search._Budget, "fits", lambda self, cfg: cfg.train.num_train_epochs <= 2)
    space = {"learning_rate": {"low": 1e-3, "high": 5e-3, "log": True}, "num_train_epochs": [2, 3]}
    result = tune(
        _cfg(tiny_model_dir, tmp_path / "out"),
        time_budget="5m",
        n_trials=4,
        space=space,
        train=SENTIMENT,
        validation=SENTIMENT[::2],
    )
    trials = result.search["trials"]
    ran = [t for t in trials if t["state"] != "skipped"]
    skipped = [t for t in trials if t["state"] == "skipped"]
    assert len(ran) == 4 and all(t["params"]["num_train_epochs"] == 2 for t in ran)
    assert skipped and any(t["params"]["num_train_epochs"] == 3 for t in skipped)
    first_skip = trials.index(next(t for t in trials if t["params"]["num_train_epochs"] == 3))
    assert any(t["state"] != "skipped" for t in trials[first_skip:]), "the search went on after the skip"
    monkeypatch.setattr(search._Budget, "fits", lambda self, cfg: cfg.train.num_train_epochs <= 1)
    with pytest.raises(ConfigError, match="a time budget that holds one trial"):
        tune(_cfg(tiny_model_dir, tmp_path / "none"), time_budget="5m", space=space, train=SENTIMENT)


def test_a_lora_search_keeps_the_best_trial_s_adapters_and_saves_them_merged(tiny_model_dir, tmp_path, monkeypatch):
    """With --lora every trial trains adapters; the kept trial's checkpoints hold adapters too, so
    the final run wraps the model alike before resuming them: the merged model scores as the trial
    did, and the adapters are saved apart for peft."""
    steps = _count_final_steps(monkeypatch)
    cfg = _cfg(tiny_model_dir, tmp_path / "out")
    cfg["task"] = {"calibrate": False}
    cfg["model"].update(lora=True, lora_target_modules="all-linear", lora_r=16)
    space = {"learning_rate": {"low": 5e-3, "high": 2e-2, "log": True}}
    result = tune(cfg, time_budget="3m", n_trials=2, space=space, train=SENTIMENT, validation=SENTIMENT)
    record, out = result.search, result.output_dir
    assert record["kept_trial"]["number"] == record["best"]["number"] and steps["final"] == 0
    assert result.metrics["validation"]["accuracy"] == pytest.approx(record["best"]["value"], abs=1e-6)
    assert (out / "adapter" / "adapter_config.json").is_file() and not (out / "adapter_config.json").exists()
    assert evaluate(out, SENTIMENT)["accuracy"] == pytest.approx(record["best"]["value"], abs=1e-6)
    info = json.loads((out / "headstart.json").read_text())
    assert info["config"]["model"]["lora"] is True
