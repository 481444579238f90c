"""qtask-verify: behaviour specification suite for deployments of the quantum task queue.

The engine's public API; the suite's steps and the reporting tools use these names. The
packages, in the order one run flows through them (each imports only those before it):
``config`` (profiles), ``clients`` (read-only views of the API, database and broker),
``deployment`` (preflight, controller, interventions, cleanup ledger), ``checks`` (waiting,
diagnoses, circuits, outages), ``plugin`` (pytest wiring), ``run`` (run record, verdict) and
``reports`` (every rendering of the run record).
"""

from .checks.consumers import ConsumerWatch
from .checks.tasks import TaskOutcome, TaskState, wait_for_task
from .clients import ApiClient, BrokerInspector, DatabaseInspector
from .config import Environment, Expectations, Thresholds, load_environment
from .deployment.controller import CommandController, DeploymentController
from .deployment.interventions import Intervention, taken_down
from .deployment.ledger import CleanupLedger, ScenarioTasks, SubmittedTask, sweep
from .deployment.preflight import ComponentHealth, PreflightReport, run_preflight
from .errors import (
    ConfigurationError,
    ControllerError,
    DeploymentFault,
    Observation,
    QtaskVerifyError,
    require,
)
from .redaction import Redactor, mask_url
from .waiting import Timeline, poll_until

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
    "Intervention",
    "Observation",
    "PreflightReport",
    "QtaskVerifyError",
    "Redactor",
    "ScenarioTasks",
    "SubmittedTask",
    "TaskOutcome",
    "TaskState",
    "Thresholds",
    "Timeline",
    "load_environment",
    "mask_url",
    "poll_until",
    "require",
    "run_preflight",
    "sweep",
    "taken_down",
    "wait_for_task",
]
