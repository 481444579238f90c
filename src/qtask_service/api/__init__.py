"""The HTTP API of the service (FastAPI): submit tasks, read them, report health."""
