"""The page at / in a real headless Chromium: type text, click Predict, see bars or entities.

The browser is found on PATH or installed by scripts/install-browser.sh; where it cannot be, the
tests skip and say why. Screenshots are checked as pictures (the bar and highlight colours are
painted) and kept in $HEADSTART_SCREENSHOTS when that is set.
"""

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser_support import Browser, find_chromium
from headstart import Predictor, train
from server_support import KEY, Server
from tests_support import SENTIMENT, ner_rows, qa_rows, tiny_run_config

CHROMIUM, WHY = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=WHY)


@pytest.fixture(scope="module")
def browser():
    b = Browser(CHROMIUM)
    yield b
    b.close()


def _painted(png: bytes, rgb: tuple[int, int, int]) -> int:
    """How many pixels of the screenshot have (nearly) this colour."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int((np.abs(pixels - np.array(rgb)).sum(-1) < 12).sum())


def _keep(path: Path) -> None:
    target = os.environ.get("HEADSTART_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


@pytest.mark.slow
def test_classifier_page_shows_label_bars(browser, tmp_path_factory, tiny_model_dir, tmp_path):
    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("page") / "clf")
    model = train(cfg, train=SENTIMENT, validation=SENTIMENT).output_dir
    server = Server(model, "--api-key", KEY)
    try:
        browser.open(server.url + "/")
        browser.wait_for("!document.getElementById('key-box').classList.contains('hidden')")
        browser.type_into("key", KEY)
        browser.type_into("text", "wonderful film excellent acting")
        browser.click("go")
        browser.wait_for("document.getElementById('result').dataset.done === '1'")
        rows = browser.js(
            "[...document.querySelectorAll('.bar-row')].map(r => [r.dataset.label, r.classList.contains('best'),"
            " r.querySelector('.bar').style.width])"
        )
        assert [r[0] for r in rows] == ["pos", "neg"] and rows[0][1] is True
        assert float(rows[0][2].rstrip("%")) > 50 > float(rows[1][2].rstrip("%"))
        assert browser.js("document.getElementById('error').textContent") == ""
        png = browser.screenshot(tmp_path / "page-classifier.png")
        _keep(tmp_path / "page-classifier.png")
        assert _painted(png, (0x1F, 0x9D, 0x55)) > 500, "the winning label's green bar is painted"
        # a wrong key is shown to the user as the server's message, not swallowed
        browser.js("document.getElementById('key').value = 'wrong'")
        browser.click("go")
        assert "401" in browser.wait_for("document.getElementById('error').textContent")
    finally:
        server.stop()


@pytest.mark.slow
def test_ner_page_highlights_entities(browser, tmp_path_factory, tiny_model_dir, tmp_path):
    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("page") / "ner", task={"type": "ner"})
    model = train(cfg, train=ner_rows(), validation=ner_rows()).output_dir
    server = Server(model)
    try:
        browser.open(server.url + "/")
        browser.wait_for("document.getElementById('facts').textContent.includes('token-classification')")
        browser.type_into("text", "he said the company was great")
        browser.click("go")
        browser.wait_for("document.getElementById('result').dataset.done === '1'")
        marks = browser.js(
            "[...document.querySelectorAll('mark')].map(m => [m.dataset.label, m.firstChild.textContent])"
        )
        assert marks == [["PER", "he"], ["ORG", "company"]]
        assert browser.js("document.querySelector('.entities').textContent").startswith("hePER said the companyORG")
        png = browser.screenshot(tmp_path / "page-ner.png")
        _keep(tmp_path / "page-ner.png")
        assert _painted(png, (0xFF, 0xE5, 0x8F)) > 200, "entities are highlighted"
    finally:
        server.stop()


@pytest.mark.slow
def test_qa_page_takes_a_question_and_a_context_and_marks_the_answer(
    browser, tmp_path_factory, tiny_model_dir, tmp_path
):
    task = {"type": "question-answering", "doc_stride": 8}
    cfg = tiny_run_config(tiny_model_dir, tmp_path_factory.mktemp("page") / "qa", task=task)
    model = train(cfg, train=qa_rows(), validation=qa_rows()).output_dir
    server = Server(model)
    try:
        browser.open(server.url + "/")
        browser.wait_for("document.getElementById('facts').textContent.includes('question-answering')")
        labels = browser.js(
            "[document.getElementById('text-label').textContent,"
            " document.getElementById('text_pair-label').textContent]"
        )
        assert labels == ["Question", "Context"]
        assert not browser.js("document.getElementById('pair-box').classList.contains('hidden')")
        row = qa_rows()[1]
        want = Predictor.load(model).predict(row)[0]["answer"]
        browser.type_into("text", row["question"])
        browser.type_into("text_pair", row["context"])
        browser.click("go")
        browser.wait_for("document.getElementById('result').dataset.done === '1'")
        assert browser.js("[...document.querySelectorAll('mark')].map(m => m.textContent)") == [want] != [""]
        assert browser.js("document.querySelector('.answer').textContent") == row["context"]
        png = browser.screenshot(tmp_path / "page-qa.png")
        _keep(tmp_path / "page-qa.png")
        assert _painted(png, (0xFF, 0xE5, 0x8F)) > 50, "the answer is highlighted"
    finally:
        server.stop()


@pytest.mark.slow
def test_generation_page_shows_the_text_as_it_is_written(browser, tmp_path_factory, tiny_llama_dir):
    """The page reads /v1/generate's server-sent events and shows the pieces as they come."""
    rows = [{"mr": f"say {w}", "ref": f"{w} {w}"} for w in ["great", "movie", "film", "story", "plot", "awful"]]
    task = {"type": "generation", "max_new_tokens": 8, "eval_samples": 0}
    cfg = tiny_run_config(tiny_llama_dir, tmp_path_factory.mktemp("page") / "gen", task=task, learning_rate=1e-2)
    cfg["train"]["num_train_epochs"] = 60
    cfg["model"]["max_length"] = 24
    model = train(cfg, train=rows, validation=rows).output_dir
    want = Predictor.load(model).predict(["say film"])[0]["generated_text"]
    server = Server(model)
    try:
        browser.open(server.url + "/")
        browser.wait_for("document.getElementById('facts').textContent.includes('generation')")
        assert browser.js("document.getElementById('text-label').textContent") == "Input"
        assert browser.js("typeof STREAM !== 'undefined' && STREAM") is True, "the page reads /v1/generate"
        assert "labels" not in browser.js("document.getElementById('facts').textContent")
        browser.type_into("text", "say film")
        browser.click("go")
        browser.wait_for("document.getElementById('result').dataset.done === '1'")
        assert browser.js("document.querySelector('.written').textContent") == want == "film film"
    finally:
        server.stop()
