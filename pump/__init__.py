"""pump: replay CSV, JSON-lines and Parquet datasets into Apache Kafka, fast, with flat memory, accounting for every record.

    import asyncio, pump

    config = pump.ReplayConfig.of("rides.csv", "rides", bootstrap_servers="localhost:9092",
                                  schema="rides", key_field="PULocationID")
    report = asyncio.run(pump.replay(config))
    print(report.to_text())

The layout follows the data: ``input`` (files and URLs -> chunks of text, or Parquet's row batches), ``decode``
(chunks -> records by partition), ``pace`` (the slot for pacing), ``output`` (send modes, sinks, the Kafka boundary),
``account`` (every line's fate), ``observe`` (metrics, report), ``engine`` (the run),
``runner`` (building and running a replay from its config), ``cli``, ``dev`` (embedded broker,
synthetic data) and ``testing`` (an in-memory cluster).
"""

from __future__ import annotations

from pump._version import __version__
from pump.config import (
    SETTINGS,
    CheckpointSettings,
    DeliverySettings,
    InputSettings,
    ObserveSettings,
    ProducerSettings,
    ReplayConfig,
    Secret,
    SecuritySettings,
)
from pump.decode import java_partition, murmur2
from pump.errors import BrokerError, ConfigError, InputError, Interrupted, PumpError, TopicError, UsageError
from pump.observe import Latency, Report
from pump.records import DeliveryError, Invalid
from pump.runner import replay
from pump.schemas import Ride

__all__ = (
    "SETTINGS",
    "BrokerError",
    "CheckpointSettings",
    "ConfigError",
    "DeliveryError",
    "DeliverySettings",
    "InputError",
    "InputSettings",
    "Interrupted",
    "Invalid",
    "Latency",
    "ObserveSettings",
    "ProducerSettings",
    "PumpError",
    "ReplayConfig",
    "Report",
    "Ride",
    "Secret",
    "SecuritySettings",
    "TopicError",
    "UsageError",
    "__version__",
    "java_partition",
    "murmur2",
    "replay",
)
