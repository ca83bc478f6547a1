"""librdkafka's mock Kafka cluster (bundled in the confluent-kafka wheel), driven through ctypes.

It speaks the Kafka protocol on loopback sockets and can inject broker-side errors and
leader moves, which the Tansu test broker cannot. Every function called has its argtypes
and restype set (64-bit pointers).
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager

import confluent_kafka

NOT_LEADER_OR_FOLLOWER = 6
REQUEST_TIMED_OUT = 7
PRODUCE = 0


def _lib() -> ctypes.CDLL:
    libs = os.path.join(os.path.dirname(os.path.dirname(confluent_kafka.__file__)), "confluent_kafka.libs")
    lib = ctypes.CDLL(glob.glob(os.path.join(libs, "librdkafka*.so*"))[0])
    p, c, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    signatures = {
        "rd_kafka_conf_new": ([], p),
        "rd_kafka_new": ([i, p, c, ctypes.c_size_t], p),
        "rd_kafka_destroy": ([p], None),
        "rd_kafka_mock_cluster_new": ([p, i], p),
        "rd_kafka_mock_cluster_destroy": ([p], None),
        "rd_kafka_mock_cluster_bootstraps": ([p], c),
        "rd_kafka_mock_topic_create": ([p, c, i, i], i),
        "rd_kafka_mock_push_request_errors_array": ([p, ctypes.c_int16, ctypes.c_size_t, ctypes.POINTER(i)], None),
        "rd_kafka_mock_partition_set_leader": ([p, c, ctypes.c_int32, ctypes.c_int32], i),
    }
    for name, (args, res) in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = args, res
    return lib


class MockCluster:
    def __init__(self, lib: ctypes.CDLL, handle: int, cluster: int) -> None:
        self._lib, self._rk, self._mc = lib, handle, cluster
        self.bootstrap = lib.rd_kafka_mock_cluster_bootstraps(cluster).decode()

    def create_topic(self, name: str, partitions: int) -> None:
        assert self._lib.rd_kafka_mock_topic_create(self._mc, name.encode(), partitions, 1) == 0

    def fail_produce(self, *errors: int) -> None:
        """The next ``len(errors)`` Produce requests get these error codes."""
        array = (ctypes.c_int * len(errors))(*errors)
        self._lib.rd_kafka_mock_push_request_errors_array(self._mc, PRODUCE, len(errors), array)

    def move_leader(self, topic: str, partition: int, broker_id: int) -> None:
        assert self._lib.rd_kafka_mock_partition_set_leader(self._mc, topic.encode(), partition, broker_id) == 0


@contextmanager
def mock_cluster(brokers: int = 3) -> Iterator[MockCluster]:
    lib = _lib()
    err = ctypes.create_string_buffer(512)
    rk = lib.rd_kafka_new(0, lib.rd_kafka_conf_new(), err, len(err))  # a producer handle to own the cluster
    assert rk, err.value
    mc = lib.rd_kafka_mock_cluster_new(rk, brokers)
    assert mc
    try:
        yield MockCluster(lib, rk, mc)
    finally:
        lib.rd_kafka_mock_cluster_destroy(mc)
        lib.rd_kafka_destroy(rk)
