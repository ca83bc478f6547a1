"""pump: replay large CSV and JSON-lines datasets into Apache Kafka, fast, accounting for every line."""

from __future__ import annotations

__version__ = "0.1.0"

from pump.config import ReplayConfig
from pump.errors import BrokerError, InputError, PumpError, TopicError, UsageError
from pump.partition import java_partition, murmur2
from pump.pipeline import replay
from pump.report import Report
from pump.schemas import Ride

__all__ = (
    "BrokerError",
    "InputError",
    "PumpError",
    "ReplayConfig",
    "Report",
    "Ride",
    "TopicError",
    "UsageError",
    "__version__",
    "java_partition",
    "murmur2",
    "replay",
)
