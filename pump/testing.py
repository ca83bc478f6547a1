"""For testing code that uses pump, without a broker: an in-memory cluster to replay into.

    from pump.testing import MemoryCluster

    cluster = MemoryCluster(partitions=4)
    report = await pump.replay(config, cluster=cluster)
    assert report.exit_code == 0
    assert len(cluster.messages(config.topic)) == report.acknowledged

``hold=True`` keeps every send pending until ``cluster.settle()``; ``fail=`` makes chosen
records fail with a ``DeliveryError`` (see ``pump.output.memory``).
"""

from pump.output.memory import MemoryBatch, MemoryCluster, MemorySink, Message
from pump.records import DeliveryError

__all__ = ("DeliveryError", "MemoryBatch", "MemoryCluster", "MemorySink", "Message")
