"""headstart distill: the loss, a student of another architecture and tokenizer learning a teacher's
scores (with teacher-labelled unlabeled text), what its directory records, and the refusals."""

import json

import numpy as np
import pytest
import torch
from torch import nn
from transformers import pipeline

from headstart import Predictor, distill, train
from headstart.cli import main
from headstart.errors import ConfigError, DataError, LabelError
from headstart.modeling.losses import distillation_loss
from tests_support import NEGATIVE, POSITIVE, SENTIMENT, ner_rows, tiny_run_config


def test_the_loss_mixes_the_gold_labels_and_the_teachers_softened_scores():
    torch.manual_seed(0)
    student, teacher = torch.randn(6, 3), torch.randn(6, 3)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    hard = nn.functional.cross_entropy(student, labels)
    kl = nn.functional.kl_div(
        nn.functional.log_softmax(student / 2, -1), nn.functional.softmax(teacher / 2, -1), reduction="batchmean"
    )
    assert torch.isclose(distillation_loss(student, teacher, labels, 2.0, 1.0), hard)
    assert torch.isclose(distillation_loss(student, teacher, labels, 2.0, 0.0), 4 * kl)
    assert torch.isclose(distillation_loss(student, teacher, labels, 2.0, 0.3), 0.3 * hard + 0.7 * 4 * kl)
    # token level: positions labelled -100 take no part
    tokens, teacher_tokens = student.view(2, 3, 3), teacher.view(2, 3, 3)
    masked = torch.tensor([[0, -100, 2], [-100, 1, 2]])
    keep = masked.view(-1) != -100
    want = distillation_loss(student[keep], teacher[keep], masked.view(-1)[keep], 2.0, 0.5)
    assert torch.isclose(distillation_loss(tokens, teacher_tokens, masked, 2.0, 0.5), want)


@pytest.fixture(scope="module")
def teacher_dir(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher") / "model"
    return train(tiny_run_config(tiny_model_dir, out), train=SENTIMENT, validation=SENTIMENT).output_dir


UNLABELED = [{"text": f"{p} {q}"} for p in POSITIVE[:6] for q in ("indeed", "really")]


def test_a_student_of_another_architecture_learns_the_teachers_scores(teacher_dir, tiny_mpnet_dir, tmp_path):
    cfg = tiny_run_config(tiny_mpnet_dir, tmp_path / "student")
    result = distill(cfg, teacher=teacher_dir, alpha=0.0, unlabeled=UNLABELED, train=SENTIMENT, validation=SENTIMENT)
    texts = [r["text"] for r in SENTIMENT]
    theirs = [p["label"] for p in Predictor.load(teacher_dir).predict(texts)]
    student = Predictor.load(result.output_dir)
    ours = [p["label"] for p in student.predict(texts)]
    assert np.mean([a == b for a, b in zip(ours, theirs)]) >= 0.9, "alpha 0: the teacher's scores alone"
    info = json.loads((result.output_dir / "headstart.json").read_text())
    record = info["distilled_from"]
    assert record["teacher"] == str(teacher_dir) and record["unlabeled_examples"] == len(UNLABELED)
    assert record["teacher_scores"]["validation"]["accuracy"] > 0.5 and record["alpha"] == 0.0
    assert info["data"]["train"]["examples"] == len(SENTIMENT) + len(UNLABELED)
    assert info["base_model"] == str(tiny_mpnet_dir)
    card = (result.output_dir / "README.md").read_text()
    assert f"distilled from `{teacher_dir}`" in card and "plus 12 unlabeled examples" in card
    assert "teacher 1.0000" in card or "teacher 0." in card
    pipe = pipeline("text-classification", model=str(result.output_dir))
    assert [p["label"] for p in pipe(texts[:4])] == ours[:4], "a normal saved directory"


def test_distillation_refusals(teacher_dir, tiny_model_dir, tmp_path):
    cfg = tiny_run_config(tiny_model_dir, tmp_path / "a")
    with pytest.raises(ConfigError, match="temperature > 0 and alpha in"):
        distill(cfg, teacher=teacher_dir, temperature=0, train=SENTIMENT)
    other = [{"text": r["text"], "label": "meh"} for r in SENTIMENT[:4]] + SENTIMENT
    with pytest.raises(DataError, match="labels it does not: meh"):
        distill(cfg, teacher=teacher_dir, train=other)
    pairs = [{"text": r["text"], "text_pair": "and so on", "label": r["label"]} for r in SENTIMENT]
    with pytest.raises(DataError, match=r"training inputs of the teacher's kind \(single texts\).*found text pairs"):
        distill(cfg, teacher=teacher_dir, train=pairs)
    ratings = [{"text": r["text"], "rating": 4.0 if r["label"] == "pos" else 1.0} for r in SENTIMENT]
    regression = tiny_run_config(tiny_model_dir, tmp_path / "reg", task={"type": "regression"}, num_train_epochs=1)
    scorer = train(regression, train=ratings, validation=ratings)
    with pytest.raises(ConfigError, match="a teacher of a task that can be distilled .* found a regression"):
        distill(cfg, teacher=scorer.output_dir, train=SENTIMENT)
    assert not (tmp_path / "a").exists(), "nothing written"


def test_the_distill_command(teacher_dir, tiny_model_dir, tmp_path, capsys):
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"{r['text']},{r['label']}\n" for r in SENTIMENT))
    more = tmp_path / "more.jsonl"
    more.write_text("".join(json.dumps({"text": t}) + "\n" for t in NEGATIVE[:5]))
    out = tmp_path / "student"
    argv = [
        "distill",
        "--teacher",
        str(teacher_dir),
        "--student",
        str(tiny_model_dir),
        "--train",
        str(data),
        "--validation",
        str(data),
        "--unlabeled",
        str(more),
        "-o",
        str(out),
        "--max_length",
        "32",
        "--epochs",
        "3",
        "--set",
        "train.learning_rate=0.003",
        "--temperature",
        "3",
        "--alpha",
        "0.2",
    ]
    assert main(argv) == 0
    assert f"saved to {out}" in capsys.readouterr().out
    record = json.loads((out / "headstart.json").read_text())["distilled_from"]
    assert (record["temperature"], record["alpha"], record["unlabeled_examples"]) == (3.0, 0.2, 5)


@pytest.fixture(scope="module")
def ner_teacher(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ner-teacher") / "model"
    return train(tiny_run_config(tiny_model_dir, out, task={"type": "ner"}), train=ner_rows()).output_dir


def test_a_tagger_student_of_another_tokenizer_learns_the_teachers_tags(ner_teacher, tiny_mpnet_dir, tmp_path):
    """Token level: the teacher's per-word scores reach the student's sub-tokens through the words
    (the two tokenizers split them differently); teacher-labelled sentences are added."""
    rows = ner_rows()
    unlabeled = [{"tokens": r["tokens"][::-1]} for r in rows[:8]]  # the same words in another order
    cfg = tiny_run_config(tiny_mpnet_dir, tmp_path / "student", task={"type": "ner"})
    result = distill(cfg, teacher=ner_teacher, alpha=0.0, unlabeled=unlabeled, train=rows, validation=rows)
    sentences = [r["tokens"] for r in rows] + [r["tokens"] for r in unlabeled]

    def tags(directory):
        from headstart.tasks.token_classification.predict import predict_tags

        return [t for seq in predict_tags(Predictor.load(directory), sentences)[0] for t in seq]

    theirs, ours = tags(ner_teacher), tags(result.output_dir)
    assert np.mean([a == b for a, b in zip(ours, theirs)]) >= 0.9, "alpha 0: the teacher's scores alone"
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["distilled_from"]["unlabeled_examples"] == len(unlabeled)
    assert info["data"]["train"]["examples"] == len(rows) + len(unlabeled)
    assert "f1" in info["distilled_from"]["teacher_scores"]["validation"]


def test_token_targets_are_the_teachers_word_scores_on_each_word_s_sub_tokens(ner_teacher, tiny_model_dir, tmp_path):
    from transformers import AutoTokenizer

    from headstart.config import RunConfig
    from headstart.data.labels import LabelSet
    from headstart.data.tokens import rows_to_examples
    from headstart.tasks import get_task
    from headstart.tasks.token_classification.predict import word_log_probs

    rows = ner_rows()[:6]
    teacher = Predictor.load(ner_teacher)
    task = get_task("token-classification")
    examples = rows_to_examples(rows, [f"row {i}" for i in range(len(rows))], "rows")
    labels = LabelSet(list(reversed(teacher.info.labels)))  # the student's own order
    student = tiny_run_config(tiny_model_dir, tmp_path / "s", task={"type": "ner", "stride": 2})
    student["model"]["max_length"] = 8  # the student's rows are windows of the sentences
    cfg = RunConfig.from_dict(student)
    data, summary = task.encode(examples, AutoTokenizer.from_pretrained(tiny_model_dir), labels, cfg)
    assert len(summary["owner"]) > len(rows)
    targets = task.teacher_targets(teacher, examples, summary["owner"], labels)
    words, _, _ = word_log_probs(teacher, examples.words)
    order = [teacher.info.labels.index(name) for name in labels.names]
    for row, window in enumerate(summary["owner"]):
        assert len(targets[row]) == len(data[row]["input_ids"])
        for position, word in enumerate(window.words):
            if word is not None:
                assert np.allclose(targets[row][position], words[window.sentence][word][order], atol=1e-6)


def test_crf_taggers_are_refused_as_teacher_and_as_student(ner_teacher, tiny_model_dir, tmp_path):
    rows = ner_rows()
    crf = train(
        tiny_run_config(tiny_model_dir, tmp_path / "crf", task={"type": "ner", "crf": True}, num_train_epochs=1),
        train=rows,
    )
    with pytest.raises(LabelError, match="a softmax tagger as the teacher"):
        distill(
            tiny_run_config(tiny_model_dir, tmp_path / "a", task={"type": "ner"}), teacher=crf.output_dir, train=rows
        )
    student = tiny_run_config(tiny_model_dir, tmp_path / "b", task={"type": "ner", "crf": True})
    with pytest.raises(ConfigError, match="a softmax tagger as the student"):
        distill(student, teacher=ner_teacher, train=rows)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# -- question answering ---------------------------------------------------------------------------
QA = {"type": "question-answering", "doc_stride": 8}


def test_qa_targets_carry_the_teachers_mass_to_the_student_tokens_by_characters():
    """The teacher's start mass lands on the student token holding a teacher token's first
    character, its end mass on the one holding its last; [CLS] stays at 0; nothing is lost."""
    from headstart.tasks.question_answering.distill import _carried

    out = (-1, -1)
    # context "new company": the teacher reads it from character 0 as "new", "comp", "any";
    # the student's window has the question first, then "new company" as one token
    teacher = [out, (0, 3), (4, 8), (8, 11), out]
    student = [out, out, out, (0, 3), (4, 11), out]
    start, end = np.array([0.1, 0.2, 0.3, 0.35, 0.05]), np.array([0.2, 0.1, 0.05, 0.6, 0.05])
    s, e = _carried(teacher, 0, student, start, end)
    assert s.tolist() == pytest.approx([0.1, 0, 0, 0.2, 0.65, 0])  # "comp" and "any" both start in "company"
    assert e.tolist() == pytest.approx([0.2, 0, 0, 0.1, 0.65, 0])
    # the teacher read a piece of the context starting at character 4, split finer than the student
    s, e = _carried(
        [out, (0, 4), (4, 7), out], 4, student, np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.5, 0.1, 0.4, 0])
    )
    assert s.tolist() == pytest.approx([0.5, 0, 0, 0, 0.5, 0]) and e.tolist() == pytest.approx([0.5, 0, 0, 0, 0.5, 0])
    # the teacher read whole words around a window that begins inside one: what lies outside it is dropped
    inner = [out, (6, 11), out]  # the window holds "mpany" of "new company"
    s, e = _carried([out, (0, 3), (4, 11), out], 0, inner, np.array([0.2, 0.1, 0.7, 0]), np.array([0.2, 0.1, 0.7, 0]))
    assert s.tolist() == pytest.approx([0.2, 0, 0]) and e.tolist() == pytest.approx([0.2, 0.7, 0])


@pytest.fixture(scope="module")
def qa_teacher(tiny_model_dir, tmp_path_factory):
    from tests_support import qa_rows

    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("qa-teacher") / "model", task=QA)
    return train(cfg, train=qa_rows(), validation=qa_rows()).output_dir


def test_a_qa_student_of_another_tokenizer_learns_the_teachers_answers(qa_teacher, tiny_mpnet_dir, tmp_path):
    """Start and end distributions reach the student's tokens through the characters (another
    tokenizer, windows of 16 tokens); unlabeled questions are answered by the teacher and added."""
    from tests_support import qa_rows

    rows = qa_rows()
    unlabeled = [{"question": r["question"], "context": r["context"].replace(" ,", " and")} for r in rows[:8]]
    cfg = tiny_run_config(tiny_mpnet_dir, tmp_path / "student", task=QA)
    cfg["model"]["max_length"] = 24  # the contexts need several windows: targets are carried per window
    result = distill(cfg, teacher=qa_teacher, alpha=0.0, unlabeled=unlabeled, train=rows, validation=rows)
    asked = [{"question": r["question"], "context": r["context"]} for r in rows + unlabeled]
    theirs = [a["answer"] for a in Predictor.load(qa_teacher).predict(asked)]
    ours = [a["answer"] for a in Predictor.load(result.output_dir).predict(asked)]
    assert np.mean([a == b for a, b in zip(ours, theirs)]) >= 0.9, "alpha 0: the teacher's distributions alone"
    info = json.loads((result.output_dir / "headstart.json").read_text())
    assert info["distilled_from"]["unlabeled_examples"] == len(unlabeled)
    assert info["data"]["train"]["examples"] == len(rows) + len(unlabeled)
    assert "f1" in info["distilled_from"]["teacher_scores"]["validation"]
    config = json.loads((result.output_dir / "config.json").read_text())
    assert config["architectures"] == ["MPNetForQuestionAnswering"]  # a stock QA model: pipeline-loadable


def test_qa_targets_of_a_same_tokenizer_student_are_the_teachers_own_log_probabilities(qa_teacher, tiny_model_dir):
    """With the teacher's tokenizer (and questions short enough not to be cut) the teacher reads
    exactly each student window: the targets are its log-probabilities there, on the context and
    position 0, and no mass on the question."""
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from headstart.config import RunConfig
    from headstart.tasks import get_task
    from headstart.tasks.question_answering.distill import NO_MASS
    from headstart.tasks.question_answering.examples import qa_from_rows
    from headstart.tasks.question_answering.task import NO_LABELS
    from tests_support import qa_rows

    rows = qa_rows()[:12]
    examples = qa_from_rows(rows, source="rows", need_answers=True)
    task = get_task("question-answering")
    cfg = RunConfig.from_dict(tiny_run_config(tiny_model_dir, "unused", task=QA))
    cfg.model.max_length = 24  # a question keeps its 6 tokens (a quarter of max_length)
    data, summary = task.encode(examples, AutoTokenizer.from_pretrained(tiny_model_dir), NO_LABELS, cfg)
    assert len(summary["owner"]) > len(rows), "several windows a context"
    targets = task.teacher_targets(Predictor.load(qa_teacher), examples, summary["owner"], NO_LABELS)
    model = AutoModelForQuestionAnswering.from_pretrained(qa_teacher).eval()
    whole = 0
    for row, (example, offsets) in enumerate(summary["owner"]):
        inside = [span for span in offsets if span != (-1, -1)]
        context = examples.contexts[example]
        if inside[0][0] > 0 and not context[inside[0][0] - 1].isspace():
            continue  # a window beginning inside a word: the teacher reads the word whole
        whole += 1
        ids = torch.tensor([data[row]["input_ids"]])
        with torch.no_grad():
            out = model(input_ids=ids, token_type_ids=torch.tensor([data[row]["token_type_ids"]]))
        scored = [0] + [i for i, span in enumerate(offsets) if span != (-1, -1)]
        for k, logits in enumerate((out.start_logits[0], out.end_logits[0])):
            got = np.asarray(targets[row][k])
            assert len(got) == len(ids[0])
            np.testing.assert_allclose(got[scored], torch.log_softmax(logits, -1)[scored].numpy(), atol=1e-4)
            assert np.all(got[[i for i in range(len(got)) if i not in scored]] == NO_MASS)
    assert whole >= len(rows)
