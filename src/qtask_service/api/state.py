"""What the routes share for the lifetime of the application."""

from dataclasses import dataclass

from qtask_service.api.submission import Submissions
from qtask_service.broker.publisher import TaskPublisher
from qtask_service.db.tasks import TaskStore
from qtask_service.settings import Settings


@dataclass(frozen=True, slots=True)
class ServiceState:
    """Set on `app.state.service` by the lifespan."""

    settings: Settings
    store: TaskStore
    publisher: TaskPublisher
    submissions: Submissions
