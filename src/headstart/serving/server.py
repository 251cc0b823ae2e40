"""serve: run the app under uvicorn on a socket we bind, so port 0 works and the URL is exact.

uvicorn drains on SIGTERM/SIGINT: it stops accepting, lets requests in flight finish (up to
``graceful_timeout``), then the app's lifespan stops the batchers after their queues are empty.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path

from headstart.errors import ConfigError, MissingDependencyError
from headstart.serving.config import ServeConfig

logger = logging.getLogger("headstart.serve")


def serve(
    model: str | Path, config: ServeConfig | None = None, *, on_ready: Callable[[str], None] | None = None
) -> None:
    """Serve ``model`` until interrupted; ``on_ready(url)`` is called once the socket is bound."""
    cfg = (config or ServeConfig()).validate()
    try:
        import uvicorn

        from headstart.serving.app import create_app
    except ImportError as exc:
        raise MissingDependencyError(
            "FastAPI and uvicorn to serve", found=f"{exc.name} missing", fix="pip install 'headstart[serve]'"
        ) from None
    family = socket.AF_INET6 if ":" in cfg.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((cfg.host, cfg.port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"a free address to listen on ({cfg.host}:{cfg.port})",
            found=exc.strerror or str(exc),
            fix="pick another --port (0 picks a free one), or stop what is using it",
        ) from None
    try:  # the port first, the model second: a busy port is reported before a minute of loading
        app = create_app(model, cfg)
    except BaseException:
        sock.close()
        raise
    host, port = sock.getsockname()[:2]
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    if cfg.host not in ("127.0.0.1", "localhost", "::1") and not cfg.api_key:
        logger.warning("listening on %s without an API key: anyone who can reach it can use the model", cfg.host)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_config=None,  # our logging: one line per request from the app, no access log twice
            access_log=False,
            timeout_graceful_shutdown=int(cfg.graceful_timeout),
        )
    )
    # listening before uvicorn takes the socket: a client that connects as soon as startup is logged
    # waits in the backlog instead of being refused
    sock.listen(2048)
    if on_ready is not None:
        on_ready(url)
    server.run(sockets=[sock])
