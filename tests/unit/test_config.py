import dataclasses

import pytest
import yaml

from headstart.config import (
    SECTIONS,
    RunConfig,
    apply_overrides,
    default_config_yaml,
    flag_names,
    load_config,
    section_fields,
)
from headstart.errors import ConfigError


def test_default_yaml_is_commented_and_loads_back_to_the_defaults(tmp_path):
    text = default_config_yaml()
    assert "# Stop after this many evaluations without improvement." in text
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert load_config(path) == RunConfig()


def test_every_field_has_help_and_flag_names_do_not_collide():
    names = []
    for section, f in section_fields():
        assert f.metadata["help"], f"{section}.{f.name} has no help"
        names += flag_names(section, f)
    assert len(names) == len(set(names))
    assert "--name" not in names and "--model" in names


def test_train_section_keeps_hf_names():
    from transformers import TrainingArguments

    hf = {f.name for f in dataclasses.fields(TrainingArguments)}
    ours = {f.name for f in dataclasses.fields(SECTIONS["train"])}
    own = {
        "overwrite_output_dir",
        "early_stopping_patience",
        "save_minutes",
        "resume",
        "max_tokens_per_batch",
    }
    assert ours - hf == own


def test_hf_fields_take_help_and_defaults_from_training_arguments():
    from transformers import TrainingArguments

    from headstart.config import HF_TRAIN_FIELDS

    hf = {f.name: f for f in dataclasses.fields(TrainingArguments)}
    defaults = RunConfig().train
    for name in HF_TRAIN_FIELDS:
        ours = next(f for f in dataclasses.fields(SECTIONS["train"]) if f.name == name)
        assert ours.metadata["help"].startswith(hf[name].metadata["help"].strip()), name
        hf_default = hf[name].default if hf[name].default is not dataclasses.MISSING else hf[name].default_factory()
        changed = getattr(defaults, name) != hf_default
        assert changed == ("headstart's default:" in ours.metadata["help"]), f"{name}: a changed default says why"


def test_unknown_key_is_an_error_with_a_suggestion(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"train": {"learning_rat": 1e-4}}))
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        load_config(path)


def test_all_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as info:
        RunConfig.from_dict({"train": {"learning_rate": "fast", "num_train_epochs": -1}, "modle": {}})
    msg = str(info.value)
    assert "3 problems" in msg and "learning_rate" in msg and "'modle'" in msg and "num_train_epochs" in msg


def test_set_overrides_coerce_types():
    cfg = RunConfig()
    apply_overrides(
        cfg, ["train.num_train_epochs=2", "train.bf16=true", "data.test_fraction=0.2", "task.type=classification"]
    )
    assert cfg.train.num_train_epochs == 2.0 and cfg.train.bf16 is True
    assert cfg.data.test_fraction == 0.2 and cfg.task.type == "text-classification"


@pytest.mark.parametrize(
    "item, match",
    [
        ("train.learning_rate", "section.key=value"),
        ("nope.x=1", "unknown section 'nope'"),
        ("train.seed=abc", "train.seed must be an integer"),
        ("task.type=poetry", "task.type must be one of"),
        ("data.max_length=64", "unknown key 'max_length' in section 'data': it is model.max_length"),
    ],
)
def test_bad_overrides(item, match):
    with pytest.raises(ConfigError, match=match):
        apply_overrides(RunConfig(), [item])


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  seed: [1\n")
    with pytest.raises(ConfigError, match=r"c.yaml:\d+: expected valid YAML"):
        load_config(path)


def test_missing_config_file():
    with pytest.raises(ConfigError, match="init-config"):
        load_config("/nonexistent/c.yaml")


def test_early_stopping_needs_evaluation():
    with pytest.raises(ConfigError, match="needs evaluation"):
        RunConfig.from_dict({"train": {"early_stopping_patience": 2, "eval_strategy": "no"}})


def test_no_stays_a_string_for_strategies(tmp_path):
    cfg = RunConfig()
    apply_overrides(cfg, ["train.eval_strategy=no", "model.name=1e-3"])
    assert cfg.train.eval_strategy == "no" and cfg.model.name == "1e-3"
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  eval_strategy: no\n")
    assert load_config(path).train.eval_strategy == "no"


def test_speed_settings_have_their_own_section_and_the_old_keys_still_load(caplog):
    cfg = RunConfig.from_dict(
        {"model": {"attn_implementation": "eager"}, "train": {"pad_to_multiple_of": 8, "keep_freed_memory": False}}
    )
    assert (cfg.speed.attn_implementation, cfg.speed.pad_to_multiple_of, cfg.speed.keep_freed_memory) == (
        "eager",
        8,
        False,
    )
    assert "model.attn_implementation is now speed.attn_implementation" in caplog.text
    assert not hasattr(cfg.model, "attn_implementation") and not hasattr(cfg.train, "pad_to_multiple_of")
    apply_overrides(cfg, ["model.dropout_implementation=torch", "speed.release_memory_steps=4"])
    assert (cfg.speed.dropout_implementation, cfg.speed.release_memory_steps) == ("torch", 4)
    with pytest.raises(ConfigError, match="speed.pad_to_multiple_of must be > 0, found 0"):
        apply_overrides(cfg, ["speed.pad_to_multiple_of=0"])


def test_max_length_left_null_is_the_tasks_default():
    from headstart.tasks import get_task
    from headstart.training.run import with_task_defaults

    cfg = RunConfig()
    assert cfg.model.max_length is None
    assert with_task_defaults(cfg, get_task("text-classification")).model.max_length == 256
    assert with_task_defaults(cfg, get_task("question-answering")).model.max_length == 384
    assert cfg.model.max_length is None, "the caller's config is not changed"
    apply_overrides(cfg, ["model.max_length=128"])
    assert with_task_defaults(cfg, get_task("question-answering")).model.max_length == 128


def test_max_length_fits_the_backbones_position_embeddings(tiny_model_dir, tiny_mpnet_dir, tiny_llama_dir, tmp_path):
    from headstart import train
    from headstart.tasks import get_task
    from headstart.training.run import with_task_defaults
    from tests_support import SENTIMENT

    qa = get_task("question-answering")
    # left null: the task's default, or what the positions hold (tiny BERT 128; tiny MPNet 130 - pad 0 - 1)
    assert with_task_defaults(RunConfig(), qa, str(tiny_model_dir)).model.max_length == 128
    assert with_task_defaults(RunConfig(), qa, str(tiny_mpnet_dir)).model.max_length == 129
    assert with_task_defaults(RunConfig(), qa, str(tiny_llama_dir)).model.max_length == 384  # rotary: unbounded
    cfg = RunConfig()
    apply_overrides(cfg, ["model.max_length=200"])
    with pytest.raises(ConfigError, match=r"at most 128 tokens .* found max_length 200.*--max-length 128 or less"):
        with_task_defaults(cfg, qa, str(tiny_model_dir))
    # the run refuses it before reading data or touching the output directory
    run = {"model": {"name": str(tiny_model_dir), "max_length": 129}, "train": {"output_dir": str(tmp_path / "o")}}
    with pytest.raises(ConfigError, match="at most 128 tokens"):
        train(run, train=SENTIMENT)
    assert not (tmp_path / "o").exists()
