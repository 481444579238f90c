"""The reference quantum task service: HTTP API, worker, schema and broker topology."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qtask-verify")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
