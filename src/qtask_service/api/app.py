"""The application factory: lifespan of the pool and the broker link, error handling."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from qtask_service import __version__
from qtask_service.api.body_limit import BodyLimitMiddleware
from qtask_service.api.openapi import install_openapi
from qtask_service.api.responses import OrjsonResponse, error_response
from qtask_service.api.routes import router
from qtask_service.api.state import ServiceState
from qtask_service.api.submission import Submissions
from qtask_service.broker.link import BrokerUnavailable
from qtask_service.broker.publisher import TaskPublisher
from qtask_service.db.pool import DatabaseUnavailable
from qtask_service.db.tasks import TaskStore
from qtask_service.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A configured API; dependencies are connected by the lifespan, lazily and resiliently."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await TaskStore.open(settings, settings.db_pool_max_size)
        publisher = TaskPublisher(settings)
        publisher.link.start()
        submissions = Submissions(store, publisher)
        app.state.service = ServiceState(settings, store, publisher, submissions)
        # Everything allocated so far lives as long as the process: keep the collector from
        # rescanning it (full collections otherwise show up as latency spikes under load).
        gc.freeze()
        try:
            yield
        finally:
            await submissions.close()
            await publisher.link.close()
            await store.close()

    app = FastAPI(
        title="Quantum circuit task service",
        version=__version__,
        description="Runs OpenQASM 3 circuits on Qiskit Aer through a durable task queue.",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
    )
    app.include_router(router)
    install_openapi(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(BrokerUnavailable, _broker_unavailable)
    app.add_exception_handler(Exception, _unexpected)
    return app


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [
        {
            "field": "body" if error.get("type") == "json_invalid" else _field_name(error["loc"]),
            "message": error.get("msg", "invalid"),
            "type": error.get("type", "invalid"),
        }
        for error in exc.errors()
    ]
    return error_response(400, "Invalid request.", details=details)


def _field_name(loc: tuple[str | int, ...]) -> str:
    # ("body", "shots") -> "shots"; ("body",) (the body is not an object) -> "body".
    parts = [str(part) for part in loc]
    if len(parts) > 1 and parts[0] in {"body", "path", "query", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's own errors carry headers that belong to the answer: `Allow` on a 405.
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    return error_response(503, "Service unavailable: the database cannot be reached.")


async def _broker_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("broker unavailable: %s", exc)
    return error_response(503, "Service unavailable: the task queue cannot be reached.")


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "Internal server error.")
