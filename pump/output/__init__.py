"""Stage 4, output: send modes write records to a ``Sink``; a ``Cluster`` opens sinks (Kafka, or in memory)."""

from pump.output.inflight import InFlight
from pump.output.memory import MemoryCluster, MemorySink, Message
from pump.output.modes import BatchMode, CallbackMode, SendMode, SyncMode, in_flight_limit, make_mode
from pump.output.sink import BatchBuilder, Cluster, Delivery, OnDone, Sink

__all__ = ("BatchBuilder", "BatchMode", "CallbackMode", "Cluster", "Delivery", "InFlight", "MemoryCluster", "MemorySink",
           "Message", "OnDone", "SendMode", "Sink", "SyncMode", "in_flight_limit", "make_mode")  # fmt: skip
