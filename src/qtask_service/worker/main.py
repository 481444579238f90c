"""Entry point of one worker process: `python -m qtask_service.worker`."""

import asyncio
import gc
import logging
import os
import signal
import socket

import uvloop

from qtask_service.db.tasks import TaskStore
from qtask_service.settings import Settings
from qtask_service.worker.consumer import TaskConsumer


async def serve(settings: Settings) -> None:
    """Consume until SIGTERM or SIGINT, then shut down cleanly."""
    name = f"qtask-worker-{socket.gethostname()}-{os.getpid()}"
    store = await TaskStore.open(settings, settings.worker_db_pool_max_size)
    consumer = TaskConsumer(settings, store, name)
    gc.freeze()  # import-time objects live forever: spare the collector rescanning them
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, consumer.stop)
    try:
        await consumer.run()
    finally:
        await store.close()


def main() -> None:
    """Configure logging from the settings and serve on uvloop."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    uvloop.run(serve(settings))
