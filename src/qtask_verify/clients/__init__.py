"""Clients that look at a deployment from outside: its API, its database, its broker."""

from .api import ApiClient, ApiResponse, Submission
from .broker import BrokerInspector, ExchangeInfo, QueueInfo, QueueState
from .database import DatabaseInspector, ForeignKey, HistoryRow, TaskAge, TaskRow

__all__ = [
    "ApiClient",
    "ApiResponse",
    "BrokerInspector",
    "DatabaseInspector",
    "ExchangeInfo",
    "ForeignKey",
    "HistoryRow",
    "QueueInfo",
    "QueueState",
    "Submission",
    "TaskAge",
    "TaskRow",
]
