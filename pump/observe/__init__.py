"""What people watching a replay see: Prometheus metrics and their exporter, the progress line, the report."""

from pump.observe.exporter import Exporter
from pump.observe.metrics import Metrics
from pump.observe.progress import Progress
from pump.observe.report import (
    Ending,
    EventPacing,
    ExactlyOnce,
    Latency,
    Pacing,
    Report,
    Values,
    build_report,
    exit_status,
)

__all__ = (
    "Ending",
    "EventPacing",
    "ExactlyOnce",
    "Exporter",
    "Latency",
    "Metrics",
    "Pacing",
    "Progress",
    "Report",
    "Values",
    "build_report",
    "exit_status",
)
