"""An aiokafka batch filled many records at a time, straight into its C record builder.

aiokafka's ``BatchBuilder.append`` is a Python layer over its C ``DefaultRecordBatchBuilder``
(keyword arguments, a serializer hop, a closed check): measured here at 0.39 us a record, against
0.20 us for the C builder called directly. ``extend`` calls the C builder in one loop and keeps the
wrapper's own state (its record count, which the idempotent producer's sequence numbers are taken
from, and its closed flag) exactly as ``append`` would. If an aiokafka release moves that state,
``extend`` falls back to ``append``.
"""

from __future__ import annotations

from typing import Any

from aiokafka.producer.message_accumulator import BatchBuilder

from pump.output.kafka.framing import set_producer
from pump.output.sink import Headers, Origin, Stamps, extend_by_append
from pump.records import Record

_NO_HEADERS: list[Any] = []  # read, never written, by the C builder


class FramedBatch(BatchBuilder):  # type: ignore[misc]
    """A record batch already made (``framing``), as aiokafka's accumulator takes one: built, closed, counted."""

    def __init__(self, data: bytearray, count: int) -> None:  # no DefaultRecordBatchBuilder: nothing to append
        self._buffer = data
        self._relative_offset = count
        self._closed = True
        self._key_serializer = self._value_serializer = None

    def _set_producer_state(self, producer_id: int, producer_epoch: int, base_sequence: int) -> None:
        set_producer(self._buffer, producer_id, producer_epoch, base_sequence)


class KafkaBatch:
    """``headers``: the same on every record (``--header``)."""

    __slots__ = ("_direct", "builder", "headers")

    def __init__(self, builder: BatchBuilder, headers: list[tuple[str, bytes]] | None = None) -> None:
        self.builder = builder
        self.headers = headers or _NO_HEADERS
        self._direct = all(hasattr(builder, name) for name in ("_builder", "_relative_offset", "_closed"))

    def append(self, *, key: bytes | None, value: bytes, timestamp: int | None, extra: Headers | None = None) -> object | None:
        headers = [*self.headers, *extra] if extra else self.headers
        return self.builder.append(key=key, value=value, timestamp=timestamp, headers=headers)

    def size(self) -> int:
        return self.builder.size()  # type: ignore[no-any-return]

    def extend(
        self, records: list[Record], start: int, stop: int, limit: int, origin: Origin | None = None, stamps: Stamps | None = None
    ) -> tuple[int, int]:
        builder = self.builder
        if not self._direct or origin is not None:  # headers of their own per record: the wrapper's way
            return extend_by_append(self, records, start, stop, limit, origin, stamps)
        if builder._closed:
            return start, 0
        append = builder._builder.append
        offset = builder._relative_offset
        headers = self.headers
        nbytes = 0
        i = start
        while i < stop:
            key, value, line = records[i]
            size = len(value)
            if size > limit:
                break
            if append(offset, None if stamps is None else stamps[line], key, value, headers) is None:
                builder._closed = True  # full: as the wrapper's append closes it
                break
            offset += 1
            nbytes += size
            i += 1
        builder._relative_offset = offset
        return i, nbytes
