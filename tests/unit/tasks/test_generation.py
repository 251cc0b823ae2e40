"""Generation: reading input/target data (several references, chat messages), the scores against
sacrebleu and rouge-score, and training tiny decoders and a tiny T5 end to end: save, load,
write the same alone and in a batch, and plain transformers writes what Predictor writes."""

import json

import pytest
import torch

from headstart import Predictor, train
from headstart.data.examples import to_table
from headstart.errors import ConfigError, DataError
from headstart.tasks.generation.examples import generation_from_table, read_generation
from headstart.tasks.generation.metrics import text_scores
from tests_support import tiny_run_config

# A tiny data-to-text set: the model learns to write the word after "say".
WORDS = ["great", "movie", "film", "story", "plot", "actors", "awful", "boring"]
ROWS = [{"mr": f"say {w}", "ref": f"{w} {w}"} for w in WORDS]


def _cfg(model_dir, out, epochs=60, **task):
    cfg = tiny_run_config(
        model_dir, out, task={"type": "generation", **task}, num_train_epochs=epochs, learning_rate=1e-2
    )
    cfg["model"]["max_length"] = 24
    cfg["task"].setdefault("max_new_tokens", 8)
    cfg["task"].setdefault("eval_samples", 0)
    return cfg


# -- data ----------------------------------------------------------------------------------------
def test_columns_are_detected_and_rows_sharing_an_input_are_one_example():
    rows = [
        {"mr": "a", "ref": "one"},
        {"mr": "b", "ref": "two"},
        {"mr": "a", "ref": "uno"},
    ]
    ex = generation_from_table(to_table(rows))
    assert ex.inputs == ["a", "b"] and ex.references == [["one", "uno"], ["two"]]
    assert ex.pairs() == [("a", "one"), ("a", "uno"), ("b", "two")]
    assert ex.locations == ["input row 1", "input row 2"] and ex.columns == {"input": "mr", "target": "ref"}
    listed = generation_from_table(to_table([{"source": "x", "target": ["y", "z"]}]))
    assert listed.references == [["y", "z"]]


def test_chat_messages_end_with_the_reply_to_learn():
    rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]
    ex = generation_from_table(to_table(rows))
    assert ex.is_chat and ex.inputs == [[{"role": "user", "content": "hi"}]] and ex.references == [["hello"]]
    with pytest.raises(DataError, match="ending with the assistant's reply") as err:
        generation_from_table(to_table([{"messages": [{"role": "user", "content": "hi"}]}]))
    assert "input row 1" in str(err.value)


def test_bad_data_says_where_and_what_to_do(tmp_path):
    with pytest.raises(DataError, match="a column with the target") as err:
        generation_from_table(to_table([{"mr": "a", "notes": "x"}]))
    assert "--target-column" in str(err.value)
    path = tmp_path / "d.csv"
    path.write_text("mr,ref\na,one\nb,\n", encoding="utf-8")
    with pytest.raises(DataError, match="text in ref") as err:
        read_generation(str(path))
    assert f"{path}:3" in str(err.value)
    unlabeled = read_generation(str(path), need_targets=False)
    assert unlabeled.inputs == ["a", "b"]


def test_a_prompt_template_needs_the_input_slot(tiny_llama_dir, tmp_path):
    with pytest.raises(ConfigError, match=r"prompt_template must hold \{input\}"):
        train(_cfg(tiny_llama_dir, tmp_path / "o", prompt_template="Describe:\n"), train=ROWS)


# -- scores --------------------------------------------------------------------------------------
def test_scores_match_sacrebleu_with_references_padded():
    import sacrebleu

    outputs = ["the cat sat on the mat", "a dog ran", "Hello there"]
    refs = [["the cat sat on a mat", "a cat sat on the mat"], ["the dog ran away"], ["hello there"]]
    got = text_scores(outputs, refs)
    streams = [[r[0] for r in refs], [r[1] if len(r) > 1 else None for r in refs]]
    expected = sacrebleu.corpus_bleu(outputs, streams, tokenize="13a", lowercase=True).score
    assert got["bleu"] == pytest.approx(expected, abs=1e-4) and 0 < got["bleu"] < 100
    assert got["exact_match"] == pytest.approx(100 / 3, abs=1e-3), "case and spacing do not count"
    # unigram F1 with the best reference: 5/6 (one "the" too many), 4/7 (P 2/3, R 2/4), 1
    assert got["rouge1"] == pytest.approx(100 * (5 / 6 + 4 / 7 + 1) / 3, abs=1e-3)
    assert "13a" in got["bleu_signature"] and "lc" in got["bleu_signature"]


def test_bleu_is_the_official_e2e_scripts():
    # E2E-style outputs with one to four references each, written for this test. The expected BLEU
    # is the one the E2E NLG challenge's measure_scores.py computes for them: its MT-Eval BLEU
    # (metrics/pymteval.py BLEUScore, tuetschek/e2e-metrics 1b9c4d8) gave 0.623401085744963.
    outputs = [
        "The Eagle is a cheap coffee shop near Burger King, rated 5 out of 5.",
        "Zizzi is a pub that serves French food; it isn't family-friendly.",
        "Near the riverside, The Mill serves Indian food at high prices.",
        "Loch Fyne is a restaurant that serves Japanese food.",
        "Browns Cambridge, in the city centre, has an average customer rating of 3 out of 5.",
        "The Punter is a kid friendly Italian coffee shop near Café Sicilia.",
    ]
    references = [
        [
            "The Eagle is a cheap coffee shop near Burger King with a 5 out of 5 rating.",
            "Near Burger King, The Eagle coffee shop is cheap and rated 5 out of 5.",
            "The Eagle, a low-priced coffee shop close to Burger King, has a customer rating of 5 out of 5.",
        ],
        ["Zizzi is a French pub which is not family-friendly."],
        [
            "The Mill is an expensive Indian place by the riverside.",
            "By the riverside, The Mill serves Indian food with high prices.",
        ],
        [
            "Loch Fyne serves Japanese food.",
            "Japanese food is served at Loch Fyne.",
            "Loch Fyne is a Japanese restaurant.",
            "There is a restaurant called Loch Fyne that serves Japanese food.",
        ],
        ["Browns Cambridge is in the city centre and has an average rating of 3 out of 5."],
        [
            "The Punter is an Italian coffee shop near Café Sicilia; it is kid-friendly.",
            "Near Café Sicilia there is a kid friendly coffee shop called The Punter, serving Italian food.",
        ],
    ]
    assert text_scores(outputs, references)["bleu"] == pytest.approx(100 * 0.623401085744963, abs=1e-4)


# -- training ------------------------------------------------------------------------------------
# T5 copies the word through cross-attention, and takes longer to learn it
@pytest.mark.parametrize(("backbone", "epochs"), [("tiny_llama_dir", 60), ("tiny_gpt2_dir", 60), ("tiny_t5_dir", 120)])
def test_a_tiny_model_learns_to_write_and_saves_a_plain_model(backbone, epochs, tmp_path, request):
    model_dir = request.getfixturevalue(backbone)
    out = tmp_path / "writer"
    cfg = _cfg(model_dir, out, eval_samples=4)
    cfg["train"].update(num_train_epochs=epochs, eval_strategy="steps", eval_steps=epochs)
    result = train(cfg, train=ROWS, validation=ROWS[:4])
    assert result.metrics["validation"]["exact_match"] == 100.0, result.metrics["validation"]["outputs"]
    assert result.metrics["validation"]["chrf"] == pytest.approx(100.0)  # BLEU needs 4-grams: two words have none
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert any("eval_bleu" in h for h in history), "validation writes its sample each epoch"
    assert "Outputs, worst first" in (out / "report.html").read_text()
    card = (out / "README.md").read_text()
    assert "pipeline_tag: text-generation" in card and "| bleu | chrf | rouge1 | rouge2 | rougeL |" in card
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["max_new_tokens"] == 8
    predictor = Predictor.load(out)
    inputs = [r["mr"] for r in ROWS]
    batched = [p["generated_text"] for p in predictor.predict(inputs, batch_size=8)]
    alone = [predictor.predict(x)[0]["generated_text"] for x in inputs]
    assert batched == alone == [r["ref"] for r in ROWS]


def test_plain_transformers_writes_what_predictor_writes(tiny_llama_dir, tmp_path):
    from transformers import pipeline

    out = tmp_path / "writer"
    train(_cfg(tiny_llama_dir, out, epochs=5), train=ROWS, validation=ROWS[:2])
    writer = pipeline("text-generation", model=str(out))
    plain = [writer(f"{r['mr']}\n", return_full_text=False)[0]["generated_text"] for r in ROWS]
    ours = [p["generated_text"] for p in Predictor.load(out).predict([r["mr"] for r in ROWS])]
    assert [p.strip() for p in plain] == ours


def test_the_loss_counts_only_the_target_tokens(tiny_llama_dir, tmp_path):
    """TRL's completion mask: the prompt's tokens are -100 in the labels the model sees."""
    from headstart.training import run as running

    seen = {}
    original = running.trainer_for

    def spy(*args, **kwargs):
        trainer = original(*args, **kwargs)
        seen["batch"] = trainer.data_collator([trainer.train_dataset[0]])
        seen["tokenizer"] = trainer.processing_class
        seen["completion_head"] = trainer._completion_head
        return trainer

    running.trainer_for = spy
    try:
        train(_cfg(tiny_llama_dir, tmp_path / "o", epochs=1), train=ROWS, validation=ROWS[:2])
    finally:
        running.trainer_for = original
    ids, labels = seen["batch"]["input_ids"][0], seen["batch"]["labels"][0]
    learned = seen["tokenizer"].decode(ids[labels != -100])
    assert learned.startswith(ROWS[0]["ref"]) and "say" not in learned
    assert seen["completion_head"]  # the CPU run's loss projects only these positions


def test_an_encoder_cannot_write(tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="a decoder .* or an encoder-decoder"):
        train(_cfg(tiny_model_dir, tmp_path / "o"), train=ROWS)


def test_an_input_longer_than_the_model_holds_is_refused(tiny_llama_dir, tmp_path):
    out = tmp_path / "writer"
    train(_cfg(tiny_llama_dir, out, epochs=1), train=ROWS, validation=ROWS[:2])
    predictor = Predictor.load(out)
    with pytest.raises(DataError, match="inputs of at most 120 tokens") as err:
        predictor.predict(["short", "great " * 200])
    assert "input 2" in str(err.value)


def test_the_server_writes_what_predictor_writes(tiny_llama_dir, tmp_path):
    from fastapi.testclient import TestClient

    from headstart.serving import ServeConfig, create_app

    out = tmp_path / "writer"
    train(_cfg(tiny_llama_dir, out), train=ROWS, validation=ROWS[:2])
    want = [p["generated_text"] for p in Predictor.load(out).predict(["say great", "say film"])]
    assert want == ["great great", "film film"]
    with TestClient(create_app(out, ServeConfig())) as client:
        response = client.post("/v1/predict", json={"inputs": ["say great", {"input": "say film"}]})
        assert response.status_code == 200
        assert [p["generated_text"] for p in response.json()["predictions"]] == want
        empty = client.post("/v1/predict", json={"inputs": ["  "]})
        assert empty.status_code == 422 and "non-empty text" in empty.json()["error"]["message"]
        assert client.get("/v1/model").json()["decoder_only"] is True
        events = _events(client, {"inputs": "say great"})
        assert "".join(e["token"] for e in events[:-1]) == events[-1]["generated_text"] == want[0]
        assert events[-1]["done"] is True and len(events) > 2, "the text comes in pieces"
        short = client.post("/v1/generate", json={"inputs": "say great", "stream": False, "max_new_tokens": 1})
        assert short.status_code == 200 and want[0].startswith(short.json()["generated_text"])
        too_long = client.post("/v1/generate", json={"inputs": "say great", "max_new_tokens": 100_000})
        assert too_long.status_code == 422 and "max_new_tokens" in too_long.json()["error"]["message"]
        assert "const STREAM = true" in client.get("/").text


def _events(client, body):
    with client.stream("POST", "/v1/generate", json=body) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    return [json.loads(block.removeprefix("data: ")) for block in text.split("\n\n") if block.strip()]


def test_closing_a_stream_stops_the_generation(tiny_llama_dir, tmp_path):
    """A client that goes away closes the writer: generate() stops at its next token."""
    import threading
    import time

    from headstart.tasks.generation.writing import WRITER_THREAD, stream

    out = tmp_path / "writer"
    train(_cfg(tiny_llama_dir, out, epochs=1), train=ROWS, validation=ROWS[:2])
    predictor = Predictor.load(out)
    predictor.model.generation_config.eos_token_id = None  # nothing ends it but the limit or the client
    pieces = stream(predictor, "say great\n", max_new_tokens=10_000)  # seconds of writing, unless stopped
    next(pieces)
    assert any(t.name == WRITER_THREAD for t in threading.enumerate())
    started = time.perf_counter()
    pieces.close()
    assert not any(t.name == WRITER_THREAD for t in threading.enumerate()) and time.perf_counter() - started < 5


CHAT = (  # each turn ends with the end-of-sequence token, as instruct models' templates end theirs
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|endoftext|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def test_chat_messages_train_through_the_chat_template(tiny_llama_dir, tmp_path):
    from transformers import AutoTokenizer

    chat_dir = tmp_path / "chat-llama"
    import shutil

    shutil.copytree(tiny_llama_dir, chat_dir)
    tokenizer = AutoTokenizer.from_pretrained(chat_dir)
    tokenizer.chat_template = CHAT
    tokenizer.save_pretrained(chat_dir)
    rows = [
        {"messages": [{"role": "user", "content": r["mr"]}, {"role": "assistant", "content": r["ref"]}]} for r in ROWS
    ]
    out = tmp_path / "chat"
    cfg = _cfg(chat_dir, out)
    cfg["model"]["max_length"] = 48  # the template's markers take room
    train(cfg, train=rows, validation=rows[:2])
    predictor = Predictor.load(out)
    asked = [[{"role": "user", "content": r["mr"]}] for r in ROWS[:3]]
    assert [p["generated_text"] for p in predictor.predict(asked)] == [r["ref"] for r in ROWS[:3]]
    assert "chat template" in (out / "README.md").read_text()
    with pytest.raises(ConfigError, match="a tokenizer with a chat template"):
        train(_cfg(tiny_llama_dir, tmp_path / "no-template", epochs=1), train=rows, validation=rows[:2])


def test_activation_checkpointing_trains_lora_to_the_same_losses(tiny_llama_dir, tmp_path, monkeypatch):
    import transformers.modeling_utils as modeling_utils
    from transformers import Trainer

    calls = []
    real = modeling_utils.checkpoint

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(modeling_utils, "checkpoint", counted)
    before_training = []  # the time estimate's measured batches ran before train(): checkpointed too
    real_train = Trainer.train
    monkeypatch.setattr(
        Trainer, "train", lambda self, *a, **k: before_training.append(len(calls)) or real_train(self, *a, **k)
    )
    losses = {}
    for on in (False, True):
        cfg = _cfg(tiny_llama_dir, tmp_path / f"ckpt-{on}", epochs=3)
        cfg["model"]["lora"] = True
        cfg["train"].update(activation_checkpointing=on, logging_steps=1)
        train(cfg, train=ROWS)
        history = json.loads((tmp_path / f"ckpt-{on}" / "metrics.json").read_text())["history"]
        losses[on] = [h["loss"] for h in history if "loss" in h]
        assert bool(calls) is on, "each layer's forward goes through torch's checkpoint only when asked"
        assert bool(before_training[-1]) is on
    assert len(losses[True]) == len(losses[False]) > 1
    assert losses[True] == pytest.approx(losses[False], abs=1e-5)


@pytest.mark.parametrize("lora", [False, True])
def test_the_completion_head_gives_trls_loss_and_gradients(tiny_llama_dir, lora):
    """headstart's CPU head projects only the labelled positions, once; its loss and gradients are
    those of TRL's fused head (which projects every position here), with and without a token count."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    from headstart.tasks.generation.trainers import COMPLETION_HEAD, add_completion_head, completion_metrics

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    assert add_completion_head(model)
    wrapped = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"])) if lora else model
    ids = torch.randint(3, 200, (3, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0  # right padding
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :4] = -100  # the prompt
    trained = [p for p in wrapped.parameters() if p.requires_grad]
    for count in (None, torch.tensor(11)):
        results = []
        for keyword in ("fused_lm_head", COMPLETION_HEAD):
            wrapped.zero_grad()
            out = wrapped(
                input_ids=ids, attention_mask=mask, labels=labels, num_items_in_batch=count, **{keyword: True}
            )
            out.loss.backward()
            results.append((out.loss.detach(), [p.grad.clone() for p in trained]))
        (fused, fused_grads), (ours, our_grads) = results
        torch.testing.assert_close(ours, fused, atol=1e-5, rtol=1e-5)
        for a, b in zip(our_grads, fused_grads):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert out.logits.shape[0] == int((labels[:, 1:] != -100).sum())  # only the labelled positions
    with torch.no_grad():  # the logged metrics are TRL's: entropy and top-1 hits over those positions
        fused = wrapped(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True)
        entropy, correct = completion_metrics(out.logits.repeat(100, 1), out.targets.repeat(100))  # several chunks
    torch.testing.assert_close(entropy / 100, fused.entropy.sum(), atol=1e-4, rtol=1e-5)
    assert correct == 100 * fused.is_top1.sum()
    with torch.no_grad():  # without the keyword, the forward (and generate) is the model's own
        assert wrapped(input_ids=ids, attention_mask=mask).logits.shape == (3, 9, model.config.vocab_size)
        assert wrapped.generate(input_ids=ids[:1], max_new_tokens=2, do_sample=False).shape == (1, 11)


def test_packed_rows_keep_attention_within_each_example(tiny_llama_dir):
    """TRL's padding-free packing puts examples in one row with positions restarting at 0 per example;
    transformers builds the block-diagonal mask from those positions, so each example's logits are
    what it gets alone."""
    from transformers import AutoModelForCausalLM
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    a, b = [5, 17, 42, 8, 99], [7, 3, 250]
    packed = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)([{"input_ids": a}, {"input_ids": b}])
    assert "attention_mask" not in packed and packed["position_ids"].tolist() == [[0, 1, 2, 3, 4, 0, 1, 2]]
    with torch.no_grad():
        # as TRL's compute_loss calls it: no cache (transformers reads packing from the positions only then)
        together = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"], use_cache=False).logits[0]
        alone = [model(input_ids=torch.tensor([x])).logits[0] for x in (a, b)]
    torch.testing.assert_close(together, torch.cat(alone), atol=1e-5, rtol=1e-4)


def test_packing_trains_and_writes(tiny_llama_dir, tmp_path):
    out = tmp_path / "packed"
    result = train(_cfg(tiny_llama_dir, out, packing=True), train=ROWS, validation=ROWS[:4])
    assert result.metrics["validation"]["exact_match"] == 100.0
    info = json.loads((out / "headstart.json").read_text())
    assert info["config"]["task"]["packing"] is True
    assert info["throughput"]["real_tokens"] > 0 and info["throughput"]["padding_fraction"] == 0.0


def test_a_missing_extra_names_the_pip_command(tiny_llama_dir, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "trl" else real(name, *a))
    with pytest.raises(ConfigError, match=r"trl not installed.*pip install 'headstart\[generation\]'"):
        train(_cfg(tiny_llama_dir, tmp_path / "o"), train=ROWS)


def test_the_command_line_trains_writes_and_reads_files(tiny_llama_dir, tmp_path, capsys):
    from headstart.cli import main

    data = tmp_path / "e2e.csv"
    data.write_text("mr,ref\n" + "".join(f"{r['mr']},{r['ref']}\n" for r in ROWS), encoding="utf-8")
    out = tmp_path / "writer"
    args = ["train", "--task", "generation", "--model", str(tiny_llama_dir), "--train", str(data)]
    args += ["--validation", str(data), "--output-dir", str(out), "--num-train-epochs", "60", "--learning-rate", "1e-2"]
    args += ["--max-length", "24", "--max-new-tokens", "8", "--eval-samples", "2", "--seed", "0"]
    assert main(args) == 0
    assert "validation: " in capsys.readouterr().out
    assert main(["predict", str(out), "say great"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["generated_text"] == "great great"
    written = tmp_path / "written.jsonl"
    assert main(["predict", str(out), "--input", str(data), "--output", str(written)]) == 0
    rows = [json.loads(line) for line in written.read_text().splitlines()]
    assert [r["mr"] for r in rows] == [r["mr"] for r in ROWS] and all("generated_text" in r for r in rows)
    assert sum(r["generated_text"] == r["ref"] for r in rows) >= 6
