"""qtask-verify: behaviour specification suite for deployments of the quantum task queue.

The engine's public API; the suite's steps and the reporting tools use these names.
"""

from .clients import ApiClient, BrokerInspector, DatabaseInspector
from .config import Environment, Expectations, Thresholds, load_environment
from .controller import CommandController, DeploymentController
from .errors import (
    ConfigurationError,
    ControllerError,
    DeploymentFault,
    Observation,
    QtaskVerifyError,
)
from .ledger import CleanupLedger, ScenarioTasks, sweep
from .preflight import ComponentHealth, PreflightReport, run_preflight
from .redaction import Redactor, mask_url
from .waiting import ConsumerWatch, Timeline, poll_until, wait_for_task

__all__ = [
    "ApiClient",
    "BrokerInspector",
    "CleanupLedger",
    "CommandController",
    "ComponentHealth",
    "ConfigurationError",
    "ConsumerWatch",
    "ControllerError",
    "DatabaseInspector",
    "DeploymentController",
    "DeploymentFault",
    "Environment",
    "Expectations",
    "Observation",
    "PreflightReport",
    "QtaskVerifyError",
    "Redactor",
    "ScenarioTasks",
    "Thresholds",
    "Timeline",
    "load_environment",
    "mask_url",
    "poll_until",
    "run_preflight",
    "sweep",
    "wait_for_task",
]
