"""Which deployment to verify, and what it is expected to look like (``environments.toml``)."""

from .loading import DEFAULT_ENVIRONMENTS_FILE, ENV_VARIABLES, load_environment, read_env_file
from .schema import ControllerSettings, Environment, Expectations, IndexExpectation, Thresholds

__all__ = [
    "DEFAULT_ENVIRONMENTS_FILE",
    "ENV_VARIABLES",
    "ControllerSettings",
    "Environment",
    "Expectations",
    "IndexExpectation",
    "Thresholds",
    "load_environment",
    "read_env_file",
]
