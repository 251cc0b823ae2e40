"""The page at ``/``: paste text, see label scores as bars or entities marked in the text.

One self-contained HTML string — inline CSS and JS, no build step, nothing fetched from elsewhere —
so it works on a machine without internet. It asks ``/healthz`` and ``/v1/model`` what the model
is (task, labels, pair input, whether a key is needed) and calls ``/v1/predict``; which text boxes
it shows, the input it sends and how a prediction is shown (bars per label, entities or an
answer marked in the text) are the task's ``FIELDS``, ``toInput`` and ``render``.
"""

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>headstart</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; margin-bottom: .2rem; }
  #facts { color: #666; font-size: .85rem; margin-bottom: 1rem; }
  textarea { width: 100%; box-sizing: border-box; font: inherit; padding: .5rem; min-height: 6rem; }
  label.field { display: block; margin: .6rem 0 .2rem; font-weight: 600; }
  button { font: inherit; padding: .4rem 1.2rem; margin-top: .6rem; cursor: pointer; }
  #error { color: #b00020; margin-top: .8rem; white-space: pre-wrap; }
  .bar-row { display: grid; grid-template-columns: 9rem 1fr 4rem; gap: .5rem; align-items: center; margin: .25rem 0; }
  .bar-track { background: #eee; border-radius: 3px; height: 1.1rem; }
  .bar { background: #4a7bd0; height: 100%; border-radius: 3px; }
  .bar-row.best .bar { background: #1f9d55; }
  .bar-row.best .name { font-weight: 700; }
  .score { text-align: right; font-variant-numeric: tabular-nums; }
  #result { margin-top: 1.2rem; }
  .entities { line-height: 2.1; white-space: pre-wrap; }
  mark { padding: .1rem .25rem; border-radius: 3px; background: #ffe58f; }
  mark .tag { font-size: .7rem; font-weight: 700; margin-left: .25rem; color: #444; }
  .hidden { display: none; }
</style>
</head>
<body>
<h1>headstart</h1>
<div id="facts">loading the model's facts...</div>
<div id="key-box" class="hidden">
  <label class="field" for="key">API key</label>
  <input id="key" type="password" autocomplete="off" style="width: 100%; font: inherit; padding: .3rem">
</div>
<label class="field" for="text" id="text-label">Text</label>
<textarea id="text" placeholder="Paste or type text here"></textarea>
<div id="pair-box" class="hidden">
  <label class="field" for="text_pair" id="text_pair-label">Second text</label>
  <textarea id="text_pair"></textarea>
</div>
<button id="go" type="button">Predict</button>
<div id="error" role="alert"></div>
<div id="result" aria-live="polite"></div>
<script>
"use strict";
let model = null;
const $ = (id) => document.getElementById(id);

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function call(path, body) {
  const response = await fetch(path, body === undefined ? { headers: headers() }
    : { method: "POST", headers: headers(), body: JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (data.error && data.error.message) || response.statusText;
    throw new Error(response.status + ": " + message);
  }
  return data;
}

async function loadFacts() {
  const health = await call("/healthz");
  if (health.requires_key) $("key-box").classList.remove("hidden");
  try {
    model = await call("/v1/model");
    $("facts").textContent = model.task
      + (model.labels.length ? " \\u00b7 labels: " + model.labels.join(", ") : "")
      + (model.base_model ? " \\u00b7 base: " + model.base_model : "");
    showFields();
  } catch (e) {
    $("facts").textContent = health.task + (health.requires_key ? " (enter the API key)" : "");
  }
}

// The task's part (Task.serving().page_script): FIELDS, the labels of the text boxes and whether
// the model needs the second; toInput(text, second, model), the request's input from them;
// render(text, prediction, input), its view of one prediction.
__RENDER__

function showFields() {
  $("text-label").textContent = FIELDS.first;
  if (FIELDS.second) $("text_pair-label").textContent = FIELDS.second;
  $("pair-box").classList.toggle("hidden", !FIELDS.needsSecond(model));
}

async function predict() {
  $("error").textContent = "";
  $("result").textContent = "";
  const text = $("text").value;
  if (!text.trim()) { $("error").textContent = "Enter the " + FIELDS.first.toLowerCase() + " first."; return; }
  if (!model) await loadFacts();
  const input = toInput(text, $("text_pair").value, model);
  $("go").disabled = true;
  try {
    if (typeof STREAM !== "undefined" && STREAM) {
      await written(text, input);
    } else {
      const data = await call("/v1/predict", { inputs: [input], all_scores: true });
      $("result").appendChild(render(text, data.predictions[0], input));
    }
    $("result").dataset.done = "1";
  } catch (e) {
    $("error").textContent = e.message;
  } finally {
    $("go").disabled = false;
  }
}

// A model that writes (STREAM in its script): the text appears as /v1/generate streams it.
async function written(text, input) {
  const box = render(text, { generated_text: "" }, input);
  $("result").appendChild(box);
  const response = await fetch("/v1/generate",
    { method: "POST", headers: headers(), body: JSON.stringify({ inputs: input, stream: true }) });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error(response.status + ": " + ((data.error && data.error.message) || response.statusText));
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\\n\\n")) >= 0) {
      const line = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      if (!line.startsWith("data: ")) continue;
      const event = JSON.parse(line.slice(6));
      if (event.token !== undefined) box.textContent += event.token;
    }
  }
}

$("go").addEventListener("click", predict);
$("text").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) predict(); });
showFields();
loadFacts().catch((e) => { $("error").textContent = e.message; });
</script>
</body>
</html>
"""


def page(render_script: str) -> str:
    """The page with the task's JavaScript in it (``FIELDS``, ``toInput``, ``render``)."""
    return TEMPLATE.replace("__RENDER__", render_script.strip())
