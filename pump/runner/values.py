"""``--value-format avro|json-schema``: the value schema (given, or derived from the inputs or ``--schema``), registered
or looked up in the Schema Registry, and the encoder made of it. All of it before anything is sent: a schema the
registry refuses, a subject it does not have, a registry it cannot reach, each ends the run in one line (exit 2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from pump.config import ReplayConfig, ValueFormat, config_error, verbatim
from pump.decode import avro, jsonschemas
from pump.decode.values import AvroValues, JsonSchemaValues, ValueEncoder
from pump.errors import InputError
from pump.input import Source
from pump.input.parquet import ParquetSource
from pump.output.registry import Registry, SchemaType


@dataclass(frozen=True, slots=True)
class ValueSchema:
    """A value schema's text; ``derived``: pump made it from typed inputs, whose values fit it by construction."""

    text: str
    schema_type: SchemaType
    derived: bool


def value_schema(
    value_format: ValueFormat,
    given: str | None,
    topic: str,
    columns: tuple[str, ...] | None,
    sources: Sequence[Source],
    schema: type[msgspec.Struct] | None,
) -> ValueSchema:
    """The schema of ``--value-schema`` (``given``), else derived: from the first Parquet input's columns (a record
    named for the topic), else from ``--schema`` (only ``--columns``, when given)."""
    kind: SchemaType = "AVRO" if value_format == "avro" else "JSON"
    if given is not None:
        return ValueSchema(_read(given, kind), kind, derived=False)
    arrow = next((s.schema for s in sources if isinstance(s, ParquetSource)), None)
    document: dict[str, Any]
    if arrow is not None:
        name = avro.record_name(topic)
        document = avro.from_arrow(arrow, name) if kind == "AVRO" else jsonschemas.from_arrow(arrow, name)
    elif schema is not None:
        name = schema.__name__
        document = avro.from_struct(schema, name, columns) if kind == "AVRO" else jsonschemas.from_struct(schema, columns)
    else:
        raise config_error(f"{{value_format}} {value_format} needs the values' schema: give {{value_schema}}, or"
                           " {schema}, or read Parquet (its columns are typed)")  # fmt: skip
    return ValueSchema(msgspec.json.encode(document).decode(), kind, derived=True)


def _read(path: str, kind: SchemaType) -> str:
    """A schema file's text, checked: Avro by fastavro's parser, JSON Schema by its meta-schema."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        document = msgspec.json.decode(text)
    except OSError as exc:
        raise InputError(path, f"--value-schema: {exc.strerror or exc}") from None
    except msgspec.DecodeError as exc:
        raise InputError(path, f"--value-schema: not JSON ({exc})") from None
    try:
        if kind == "AVRO":
            import fastavro

            fastavro.parse_schema(document)
        else:
            import jsonschema

            jsonschema.validators.validator_for(document).check_schema(document)
    except Exception as exc:
        said = " ".join(str(exc).split("\n")[0].split())
        raise InputError(path, f"--value-schema: not a valid {'Avro' if kind == 'AVRO' else 'JSON'} schema ({said})") from None
    return text


def subject_of(config: ReplayConfig) -> str:
    """``--subject``, else TopicNameStrategy's ``<topic>-value``."""
    return config.values.subject or f"{config.topic}-value"


def registry_of(config: ReplayConfig) -> Registry:
    settings = config.values
    assert settings.schema_registry is not None
    return Registry(settings.schema_registry, settings.registry_user, settings.registry_password, settings.registry_cafile,
                    timeout=config.producer.connect_timeout)  # fmt: skip


def value_encoder(config: ReplayConfig, sources: Sequence[Source], schema: type[msgspec.Struct] | None) -> ValueEncoder | None:
    """The encoder of ``--value-format``, with the id the registry gives its schema (None: JSON, as read).

    Auto-registering (the default), the schema is registered under the subject (the registry answers with the id it
    has, if it has the schema already). ``--no-auto-register``: the schema given (``--value-schema``) must be registered
    under the subject already; without one, the subject's latest version is what the values must fit."""
    settings = config.values
    if not settings.registered:
        return None
    subject = subject_of(config)
    with registry_of(config) as registry:
        if settings.auto_register or settings.value_schema is not None:
            wanted = value_schema(settings.value_format, settings.value_schema, config.topic, config.input.column_list,
                                  sources, schema)  # fmt: skip
            call = registry.register if settings.auto_register else registry.lookup
            got, derived = call(subject, wanted.text, wanted.schema_type), wanted.derived
        else:
            got, derived = registry.latest(subject), False
    if got.schema_type != ("AVRO" if settings.value_format == "avro" else "JSON"):
        raise config_error(f"{{value_format}} {settings.value_format}: the subject {verbatim(repr(subject))}'s latest"
                           f" schema is {verbatim(got.schema_type)}")  # fmt: skip
    if settings.value_format == "avro":
        return AvroValues(got.schema, got.id)
    return JsonSchemaValues(got.schema, got.id, check=not derived)
