"""Serving: a saved model directory over HTTP (FastAPI + uvicorn), with a page at ``/``."""

from headstart.serving.config import ServeConfig

__all__ = ["ServeConfig", "create_app", "serve"]


def __getattr__(name: str):  # FastAPI is an optional extra: import it only when serving is used
    if name == "create_app":
        from headstart.serving.app import create_app

        return create_app
    if name == "serve":
        from headstart.serving.server import serve

        return serve
    raise AttributeError(name)
