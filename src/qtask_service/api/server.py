"""Runs the API under uvicorn (uvloop + httptools), configured by `QTASK_SERVICE_*`.

httptools parses in C (h11, which bounds header size itself, is pure Python and slower); the
bounds on how requests arrive come from `http_protocol`.
"""

import logging

import uvicorn

from qtask_service.api.app import create_app
from qtask_service.api.http_protocol import bounded_protocol
from qtask_service.settings import Settings


def main() -> None:
    """Entry point of `python -m qtask_service.api` and of `qtask-service-api`."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=bounded_protocol(settings),
        limit_concurrency=settings.max_concurrency,
        timeout_keep_alive=settings.keep_alive_timeout_s,
        access_log=settings.access_log,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
    )
