"""ServeConfig: the settings of `headstart serve`, one typed source for Python and the CLI flags.

Example::

    create_app("model-dir", ServeConfig(max_texts=64, api_key="s3cret"))
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from headstart.config import setting
from headstart.errors import ConfigError

_f = setting  # a field with its help text, as the run config's (the CLI's flags come from both)


@dataclass
class ServeConfig:
    host: str = _f("127.0.0.1", "Address to bind; 127.0.0.1 keeps the server on this machine. 0.0.0.0 exposes it.")
    port: int = _f(8000, "TCP port (0 picks a free one and prints it).")
    api_key: str | None = _f(
        None, "Require this key (header 'Authorization: Bearer KEY' or 'X-API-Key: KEY'); also $HEADSTART_API_KEY."
    )
    max_texts: int = _f(256, "Most texts (or pairs) in one request; more is answered 413.")
    max_chars: int = _f(200_000, "Most characters of text in one request, all texts together; more is 413.")
    max_body_bytes: int = _f(4_000_000, "Largest request body in bytes; more is 413 before it is parsed.")
    max_queue: int = _f(2048, "Most texts waiting for the model; a request that would exceed it gets 503.")
    max_batch: int = _f(32, "Most texts the model runs at once (requests arriving together share a batch).")
    batch_wait_ms: float = _f(2.0, "How long the first request of a batch waits for others to join it.")
    max_new_tokens: int = _f(512, "Models that write: the most tokens a /v1/generate request may ask for.")
    retry_after: int = _f(1, "Seconds a 503 (queue full) asks the client to wait (the Retry-After header).")
    graceful_timeout: float = _f(30.0, "On SIGTERM/Ctrl-C, seconds to let requests in flight finish.")

    def validate(self) -> ServeConfig:
        problems = [
            f"{f.name} must be > 0, found {getattr(self, f.name)}"
            for f in dataclasses.fields(self)
            if f.name in ("max_texts", "max_chars", "max_body_bytes", "max_queue", "max_batch", "max_new_tokens")
            and getattr(self, f.name) < 1
        ]
        if not 0 <= self.port <= 65535:
            problems.append(f"port must be between 0 and 65535, found {self.port}")
        if self.batch_wait_ms < 0 or self.graceful_timeout < 0 or self.retry_after < 0:
            problems.append("batch_wait_ms, graceful_timeout and retry_after must be >= 0")
        if self.max_queue < self.max_texts:
            problems.append(
                f"max_queue ({self.max_queue}) must hold at least one full request (max_texts {self.max_texts})"
            )
        if problems:
            raise ConfigError("valid serve settings", found="; ".join(problems), fix="fix the flags")
        return self
