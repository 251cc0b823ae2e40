"""Load test of `headstart serve` on loopback: requests/s, p50/p99 latency, errors, and overload.

Three runs against real `headstart serve` processes on the same model, same texts, same client:

1. headstart's defaults (micro-batching: up to 32 texts per forward pass);
2. the peer: the same server with micro-batching off (`--max-batch 1 --batch-wait-ms 0`), i.e.
   one forward pass per request as a plain FastAPI wrapper around a pipeline would do;
3. overload: a small queue (`--max-queue 64`) under 4x the concurrency — every answer must be
   200 or 503 with Retry-After, never a connection error or a 500, and /healthz must answer after.

The client is 32 threads (urllib, keep-alive off) on the same machine, so on 2 cores it takes CPU
from the server: absolute numbers are a floor. Texts are SST-2 dev sentences when
../shared/data is present, else built-in sentences.

    .venv/bin/python bench/serve_load.py runs/sst2-minilm --requests 2000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from server_support import Server  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sst2" / "dev.tsv"
FALLBACK = ["a gorgeous, witty, seductive movie", "a tedious mess from start to finish", "it is what it is"]


def texts() -> list[str]:
    if DATA.is_file():
        return [line.rsplit("\t", 1)[0] for line in DATA.read_text(encoding="utf-8").splitlines()[1:]]
    return FALLBACK


def hammer(url: str, corpus: list[str], n: int, concurrency: int, per_request: int) -> dict:
    def one(i: int) -> tuple[int, float, str | None]:
        body = json.dumps({"inputs": [corpus[(i * per_request + k) % len(corpus)] for k in range(per_request)]})
        request = urllib.request.Request(
            url + "/v1/predict", data=body.encode(), headers={"Content-Type": "application/json"}
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                response.read()
                return response.status, time.perf_counter() - started, None
        except urllib.error.HTTPError as exc:
            retry = exc.headers.get("Retry-After")
            return exc.code, time.perf_counter() - started, retry
        except OSError as exc:  # connection refused/reset: the server failed to answer
            return -1, time.perf_counter() - started, str(exc)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - started
    ok = sorted(t for code, t, _ in results if code == 200)
    codes: dict[str, int] = {}
    for code, _, _ in results:
        codes[str(code)] = codes.get(str(code), 0) + 1
    return {
        "requests": n,
        "concurrency": concurrency,
        "texts_per_request": per_request,
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(ok) / wall, 1),
        "texts_per_s": round(len(ok) * per_request / wall, 1),
        "p50_ms": round(1000 * statistics.median(ok), 1) if ok else None,
        "p99_ms": round(1000 * ok[min(len(ok) - 1, int(0.99 * len(ok)))], 1) if ok else None,
        "status_codes": codes,
        "errors": sum(v for k, v in codes.items() if k not in ("200", "503")),
        "503_with_retry_after": sum(1 for code, _, retry in results if code == 503 and retry),
    }


def run(model_dir: str, flags: list[str], corpus: list[str], n: int, concurrency: int, per_request: int) -> dict:
    server = Server(model_dir, *flags)
    try:
        hammer(server.url, corpus, min(64, n), min(8, concurrency), per_request)  # warm-up
        result = hammer(server.url, corpus, n, concurrency, per_request)
        status, _, health = server.json("/healthz", key=None)
        result["healthy_after"] = status == 200 and health["status"] == "ok"
        result["forward_passes"] = health["batches"]
        return result
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--texts-per-request", type=int, default=1)
    parser.add_argument("--out", default="bench/results/serve_load.json")
    args = parser.parse_args()
    corpus = texts()
    runs = {
        "headstart (micro-batching)": (args.concurrency, []),
        "peer: one forward per request": (args.concurrency, ["--max-batch", "1", "--batch-wait-ms", "0"]),
        "overload: queue 64, 4x concurrency": (4 * args.concurrency, ["--max-queue", "64", "--max-texts", "64"]),
    }
    results = {}
    for name, (concurrency, flags) in runs.items():
        results[name] = run(args.model_dir, flags, corpus, args.requests, concurrency, args.texts_per_request)
        print(f"{name}: {results[name]}", file=sys.stderr)
    base = results["peer: one forward per request"]["requests_per_s"]
    print("| run | concurrency | requests/s | vs peer | p50 ms | p99 ms | status codes | errors | healthy after |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in results.items():
        ratio = f"{r['requests_per_s'] / base:.2f}x" if base else "-"
        print(
            f"| {name} | {r['concurrency']} | {r['requests_per_s']} | {ratio} | {r['p50_ms']} | {r['p99_ms']} | "
            f"{r['status_codes']} | {r['errors']} | {r['healthy_after']} |"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model_dir": args.model_dir, "results": results}, indent=2) + "\n")
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
