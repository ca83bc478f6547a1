"""A field value -> the message key, as Kafka's clients write keys: bytes of UTF-8 text."""

from __future__ import annotations

from typing import Any


def key_bytes(value: Any) -> bytes | None:
    """UTF-8 text (``""`` is a key: the empty one, as in Kafka), integers in decimal. ``None`` (missing or null): no key."""
    kind = type(value)
    if kind is str:
        return value.encode()  # type: ignore[no-any-return]
    if kind is int:
        return str(value).encode()
    if kind is bool:
        return b"true" if value else b"false"
    if kind is float:
        return repr(value).encode()
    if value is None:
        return None
    return str(value).encode()


def missing_key(field: str) -> str:
    return f"key field {field!r} is missing or null"
