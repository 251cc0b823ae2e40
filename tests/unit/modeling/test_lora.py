"""LoRA (model.lora) through peft: which modules get adapters, which train whole, and every task
training with adapters to a plain saved model (merged) that scores as the adapters did, with the
adapters kept apart for peft; a decoder with tied embeddings reloads with the same outputs."""

import json

import pytest
import torch
from transformers import AutoConfig

from headstart import Predictor, evaluate, train
from headstart.errors import ConfigError
from headstart.modeling.lora import head_modules, lora_targets
from tests_support import SENTIMENT, ner_rows, qa_rows, tiny_run_config

WORDS = ["great", "movie", "film", "story", "plot", "actors", "awful", "boring"]
WRITE = [{"mr": f"say {w}", "ref": f"{w} {w}"} for w in WORDS]


def test_targets_come_from_the_quirks_table_then_peft(tiny_model_dir, tiny_mpnet_dir, tiny_llama_dir):
    assert lora_targets(AutoConfig.from_pretrained(tiny_mpnet_dir), None) == ["q", "v"]  # not in peft's table
    assert lora_targets(AutoConfig.from_pretrained(tiny_model_dir), None) == ["query", "value"]  # peft's default
    assert lora_targets(AutoConfig.from_pretrained(tiny_llama_dir), ["q_proj"]) == ["q_proj"]
    assert lora_targets(AutoConfig.from_pretrained(tiny_llama_dir), "all-linear") == "all-linear"
    assert lora_targets(AutoConfig.from_pretrained(tiny_llama_dir), "q_proj, v_proj") == ["q_proj", "v_proj"]
    unknown = AutoConfig.from_pretrained(tiny_model_dir)
    unknown.model_type = "made-up"
    with pytest.raises(ConfigError, match="--lora-target-modules all-linear"):
        lora_targets(unknown, None)


def test_the_head_trains_whole_and_a_writer_keeps_its_output_layer(tiny_model_dir, tiny_llama_dir):
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    assert head_modules(AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)) == [
        "classifier"
    ]
    assert head_modules(AutoModelForCausalLM.from_pretrained(tiny_llama_dir)) == []


TASKS = {
    "text-classification": ({}, SENTIMENT, "accuracy", 0.75),
    "ner": ({"type": "ner"}, None, "f1", 0.5),
    "ner-crf": ({"type": "ner", "crf": True}, None, "f1", 0.5),
    "regression": (
        {"type": "regression"},
        [{"text": r["text"], "rating": 4.0 if r["label"] == "pos" else 1.0} for r in SENTIMENT],
        "pearson",
        0.75,
    ),
    "question-answering": ({"type": "question-answering", "doc_stride": 8}, qa_rows(), "f1", 50),
}


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_trains_with_adapters_and_saves_a_plain_model(task, tiny_model_dir, tmp_path):
    kind, rows, metric, floor = TASKS[task]
    rows = rows or ner_rows()
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", task=kind or None, num_train_epochs=30, learning_rate=1e-2)
    # the tiny backbone is random, not pretrained: adapters on every layer give it the room to learn
    cfg["model"].update(lora=True, lora_target_modules="all-linear", lora_r=16)
    result = train(cfg, train=rows, validation=rows)
    assert result.metrics["validation"][metric] >= floor, result.metrics["validation"]
    out = result.output_dir
    assert (out / "adapter" / "adapter_config.json").is_file() and (out / "model.safetensors").is_file()
    assert not (out / "adapter_config.json").exists(), "the main directory is a plain model"
    # the merged, saved model scores what the adapted model scored at the end of training
    assert evaluate(out, rows)[metric] == pytest.approx(result.metrics["validation"][metric], abs=1e-4)


def test_only_the_adapted_weights_and_the_head_change(tiny_model_dir, tmp_path):
    """Merged, the saved model differs from the backbone in the adapted projections (query, value)
    and the head only; and peft's adapters on the backbone give the merged model's scores."""
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", task={"calibrate": False}, num_train_epochs=10)
    cfg["model"]["lora"] = True
    out = train(cfg, train=SENTIMENT, validation=SENTIMENT).output_dir
    base = {f"bert.{k}": v for k, v in load_file(str(tiny_model_dir / "model.safetensors")).items()}
    tuned = load_file(str(out / "model.safetensors"))
    changed = {k for k, v in tuned.items() if k in base and not torch.equal(v, base[k])}
    assert changed and all(".query." in k or ".value." in k for k in changed), sorted(changed)
    assert {k for k in tuned if k not in base} >= {"classifier.weight", "classifier.bias"}
    backbone = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    adapted = PeftModel.from_pretrained(backbone, str(out / "adapter")).eval()
    predictor = Predictor.load(out)
    batch = predictor.task.probe_batch(predictor.tokenizer, predictor.info, ["great film", "a dull story"])
    with torch.no_grad():
        plain = AutoModelForSequenceClassification.from_pretrained(out).eval()(**batch).logits
        through_peft = adapted(**batch).logits
    torch.testing.assert_close(plain, through_peft, atol=1e-5, rtol=1e-4)


def _writer_config(model_dir, out, epochs: int, **model) -> dict:
    """A tiny decoder writing WRITE's references with adapters on every linear layer."""
    task = {"type": "generation", "max_new_tokens": 8, "eval_samples": 0}
    cfg = tiny_run_config(model_dir, out, task=task, num_train_epochs=epochs, learning_rate=1e-2)
    cfg["model"].update(lora=True, lora_r=16, lora_target_modules="all-linear", max_length=24, **model)
    return cfg


def test_a_tied_decoder_merged_reloads_with_the_same_outputs(tiny_llama_dir, tmp_path):
    """SmolLM2 ties its output layer to the input embeddings: LoRA leaves both alone, and the
    merged directory keeps the tie and writes what the trained model wrote (peft#2972)."""
    from transformers import AutoModelForCausalLM

    cfg = _writer_config(tiny_llama_dir, tmp_path / "w", epochs=60)
    result = train(cfg, train=WRITE, validation=WRITE[:4])
    written = {o["input"]: o["output"] for o in result.metrics["validation"]["outputs"]}
    assert json.loads((result.output_dir / "config.json").read_text())["tie_word_embeddings"] is True
    reloaded = AutoModelForCausalLM.from_pretrained(result.output_dir)
    assert reloaded.lm_head.weight.data_ptr() == reloaded.model.embed_tokens.weight.data_ptr()
    again = Predictor.load(result.output_dir).predict(list(written))
    assert [p["generated_text"] for p in again] == list(written.values())
    from peft import AutoPeftModelForCausalLM  # the adapters alone, on the base model, as peft loads them
    from transformers import AutoTokenizer

    adapted = AutoPeftModelForCausalLM.from_pretrained(str(result.output_dir / "adapter")).eval()
    tokenizer = AutoTokenizer.from_pretrained(result.output_dir)
    prompt = tokenizer(["say great\n"], return_tensors="pt")
    with torch.no_grad():
        plain = reloaded.eval()(**prompt).logits
        torch.testing.assert_close(adapted(**prompt).logits, plain, atol=1e-4, rtol=1e-3)
    assert sum(o == r["ref"] for o, r in zip(written.values(), WRITE)) >= 2, written


def test_a_module_name_the_model_lacks_is_a_clear_error(tiny_model_dir, tmp_path):
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", num_train_epochs=1)
    cfg["model"].update(lora=True, lora_target_modules=["q_proj"])
    with pytest.raises(ConfigError, match="naming modules of this model"):
        train(cfg, train=SENTIMENT, validation=SENTIMENT)


@pytest.mark.parametrize(
    "task",
    [
        "text-classification",
        pytest.param("ner-crf", marks=pytest.mark.slow),
        pytest.param("question-answering", marks=pytest.mark.slow),
    ],
)
def test_adapters_saved_alone_load_onto_the_base_and_score_the_same(task, tiny_model_dir, tmp_path):
    """model.merge false: no weights beside the adapters; Predictor rebuilds the model on the base
    (head and labels from the saved config, a folded temperature included) and scores as training did."""
    kind, rows, metric, _ = TASKS[task]
    rows = rows or ner_rows()
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", task=kind or None, num_train_epochs=30, learning_rate=1e-2)
    cfg["model"].update(lora=True, lora_target_modules="all-linear", lora_r=16, merge=False)
    result = train(cfg, train=rows, validation=rows)
    out = result.output_dir
    assert (out / "adapter" / "adapter_model.safetensors").is_file() and (out / "config.json").is_file()
    assert not list(out.glob("*.safetensors")), "no merged weights beside the adapters"
    assert json.loads((out / "headstart.json").read_text())["adapters"]["merged"] is False
    assert "LoRA adapters (r 16)" in (out / "README.md").read_text()
    again = evaluate(out, rows)
    for name in (metric, "brier"):
        if name in result.metrics["validation"]:
            assert again[name] == pytest.approx(result.metrics["validation"][name], abs=1e-4), name


def test_adapters_saved_alone_keep_the_calibration_and_load_with_peft(tiny_model_dir, tmp_path):
    """The head saved with the adapters is the calibrated one (temperature folded after training):
    the model rebuilt from them gives the uncalibrated run's logits / T, and so does peft's loader."""
    from peft import AutoPeftModelForSequenceClassification

    runs = {}
    for calibrate in (True, False):
        cfg = tiny_run_config(tiny_model_dir, tmp_path / f"c{calibrate}", task={"calibrate": calibrate})
        cfg["train"]["num_train_epochs"] = 10
        cfg["model"].update(lora=True, merge=False)
        runs[calibrate] = Predictor.load(train(cfg, train=SENTIMENT, validation=SENTIMENT).output_dir)
    calibrated, raw = runs[True], runs[False]
    temperature = calibrated.info.settings.temperature
    assert temperature is not None and abs(temperature - 1) > 0.05, temperature
    batch = calibrated.task.probe_batch(calibrated.tokenizer, calibrated.info, ["great film", "a dull story"])
    adapted = AutoPeftModelForSequenceClassification.from_pretrained(
        str(calibrated.info.path / "adapter"), num_labels=2
    ).eval()
    with torch.no_grad():
        logits = calibrated.model(**batch).logits
        torch.testing.assert_close(logits * temperature, raw.model(**batch).logits, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(adapted(**batch).logits, logits, atol=1e-5, rtol=1e-4)


def test_a_writer_saved_as_adapters_alone_writes_the_same(tiny_llama_dir, tmp_path):
    from peft import AutoPeftModelForCausalLM

    cfg = _writer_config(tiny_llama_dir, tmp_path / "w", epochs=40, merge=False)
    result = train(cfg, train=WRITE, validation=WRITE[:4])
    written = {o["input"]: o["output"] for o in result.metrics["validation"]["outputs"]}
    assert not (result.output_dir / "model.safetensors").exists()
    assert (result.output_dir / "generation_config.json").is_file()
    again = Predictor.load(result.output_dir).predict(list(written))
    assert [p["generated_text"] for p in again] == list(written.values())
    adapted = AutoPeftModelForCausalLM.from_pretrained(str(result.output_dir / "adapter"))
    assert adapted.peft_config["default"].r == 16


def test_merge_false_without_lora_is_a_clear_error(tiny_model_dir, tmp_path):
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "out", num_train_epochs=1)
    cfg["model"]["merge"] = False
    with pytest.raises(ConfigError, match="model.lora is off"):
        train(cfg, train=SENTIMENT, validation=SENTIMENT)


def test_adapters_alone_without_their_base_model_is_a_clear_error(tiny_model_dir, tmp_path):
    import shutil

    from headstart.errors import ModelLoadError

    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    cfg = tiny_run_config(base, tmp_path / "out", num_train_epochs=1)
    cfg["model"].update(lora=True, merge=False)
    out = train(cfg, train=SENTIMENT, validation=SENTIMENT).output_dir
    shutil.rmtree(base)
    with pytest.raises(ModelLoadError, match=r"the base model the adapters were trained on .*--merge true"):
        Predictor.load(out)
