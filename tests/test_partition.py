"""The partitioner must agree with Apache Kafka's Java default partitioner, byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pump.partition import Partitioner, java_partition, murmur2

# Apache Kafka, clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2
JAVA_MURMUR2 = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]


@pytest.mark.parametrize(("key", "expected"), JAVA_MURMUR2)
def test_murmur2_matches_kafka_java_vectors(key: bytes, expected: int) -> None:
    assert murmur2(key) == expected


@pytest.mark.parametrize(("key", "expected"), JAVA_MURMUR2)
def test_partition_is_positive_murmur2_modulo_count(key: bytes, expected: int) -> None:
    for n in (1, 3, 8, 12, 100):
        assert java_partition(key, n) == (expected & 0x7FFFFFFF) % n


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=512))
def test_cached_partitioner_agrees_with_direct_computation(key: bytes, n: int) -> None:
    p = Partitioner(n, cache_limit=4)
    assert p.for_key(key) == java_partition(key, n)
    assert p.for_key(key) == java_partition(key, n)  # now from the cache


def test_sticky_round_robin_covers_every_partition() -> None:
    p = Partitioner(4)
    assert [p.sticky() for _ in range(9)] == [0, 1, 2, 3, 0, 1, 2, 3, 0]


def test_grouping_keeps_input_order_per_partition_and_puts_a_chunks_unkeyed_records_together() -> None:
    from pump.pipeline import group_by_partition

    records = [(b"a", b"1", 1), (None, b"2", 2), (b"b", b"3", 3), (b"a", b"4", 4), (None, b"5", 5)]
    p = Partitioner(3)
    grouped = group_by_partition(records, p)
    assert [r for r in grouped[java_partition(b"a", 3)] if r[0] == b"a"] == [(b"a", b"1", 1), (b"a", b"4", 4)]
    assert [r for r in grouped[0] if r[0] is None] == [(None, b"2", 2), (None, b"5", 5)]  # the first sticky partition
    assert sorted(r[2] for recs in grouped.values() for r in recs) == [1, 2, 3, 4, 5]
    assert list(group_by_partition([(None, b"6", 6)], p)) == [1]  # the next chunk's unkeyed records move on
