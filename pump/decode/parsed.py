"""What a decoder makes of one chunk, and the protocol every record format's decoder follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from pump.config import config_error, verbatim
from pump.input import Chunk
from pump.records import Invalid, Record


@dataclass(slots=True)
class Parsed:
    """A chunk's lines: records in input order, invalid lines, and how many were blank."""

    records: list[Record] = field(default_factory=list)
    invalid: list[Invalid] = field(default_factory=list)
    blank: int = 0


class Decoder(Protocol):
    """Lines of one record format -> ``Parsed``. Built once per run, reused for every chunk."""

    def decode(self, chunk: Chunk) -> Parsed: ...


def field_attr(schema: type[msgspec.Struct], key_field: str) -> str:
    """The attribute holding ``key_field`` (by its name or its encoded name) in ``schema``."""
    for info in msgspec.structs.fields(schema):
        if key_field in (info.name, info.encode_name):
            return info.name
    raise config_error(f"{{key_field}} {verbatim(repr(key_field))} is not a field of schema {verbatim(schema.__name__)}")
