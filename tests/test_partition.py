"""The partitioner must agree with Apache Kafka's Java default partitioner, byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pump.decode import Partitioner, java_partition, murmur2

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


def test_the_empty_key_is_hashed_like_any_key() -> None:
    # Kafka's own Utils.murmur2(new byte[0]), run from kafka-clients 4.1.1 here: 275646681
    assert murmur2(b"") == 275646681
    assert Partitioner(7).group([(b"", b"v", 1)], seq=3) == {java_partition(b"", 7): [(b"", b"v", 1)]}


def test_consecutive_chunks_put_their_unkeyed_records_on_consecutive_partitions() -> None:
    p = Partitioner(4)
    assert [p.sticky(seq) for seq in range(9)] == [0, 1, 2, 3, 0, 1, 2, 3, 0]


def test_grouping_keeps_input_order_per_partition_and_puts_a_chunks_unkeyed_records_together() -> None:
    records = [(b"a", b"1", 1), (None, b"2", 2), (b"b", b"3", 3), (b"a", b"4", 4), (None, b"5", 5)]
    grouped = Partitioner(3).group(records, seq=0)
    assert [r for r in grouped[java_partition(b"a", 3)] if r[0] == b"a"] == [(b"a", b"1", 1), (b"a", b"4", 4)]
    assert [r for r in grouped[0] if r[0] is None] == [(None, b"2", 2), (None, b"5", 5)]  # chunk 0's sticky partition
    assert sorted(line for recs in grouped.values() for _, _, line in recs) == [1, 2, 3, 4, 5]
    assert list(Partitioner(3).group([(None, b"6", 6)], seq=1)) == [1]  # the next chunk's unkeyed records move on
