"""Record types: the built-in ones, and loading a user's ``MODULE:STRUCT``."""

from __future__ import annotations

import importlib
from datetime import datetime

import msgspec

from pump.config import config_error, verbatim


class Ride(msgspec.Struct, kw_only=True):
    """One NYC TLC yellow-taxi trip: the 18 columns of the zoomcamp ``rides.csv``.

    Columns the TLC leaves empty in some months (vendor, passengers, rate code,
    payment type, store-and-forward flag, congestion surcharge) are optional.
    """

    VendorID: int | None = None
    tpep_pickup_datetime: datetime
    tpep_dropoff_datetime: datetime
    passenger_count: int | None = None
    trip_distance: float
    RatecodeID: int | None = None
    store_and_fwd_flag: str | None = None
    PULocationID: int
    DOLocationID: int
    payment_type: int | None = None
    fare_amount: float
    extra: float
    mta_tax: float
    tip_amount: float
    tolls_amount: float
    improvement_surcharge: float
    total_amount: float
    congestion_surcharge: float | None = None


BUILTIN: dict[str, type[msgspec.Struct]] = {"rides": Ride}


def load_schema(spec: str) -> type[msgspec.Struct]:
    """Resolve ``--schema``: a built-in name, or ``MODULE:STRUCT`` naming a msgspec Struct."""
    if spec in BUILTIN:
        return BUILTIN[spec]
    module_name, sep, attr = spec.partition(":")
    named = "{schema} " + verbatim(repr(spec))
    if not sep or not module_name or not attr:
        names = ", ".join(sorted(BUILTIN))
        raise config_error(f"{named}: expected one of {names} or MODULE:STRUCT")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise config_error(f"{named}: cannot import {verbatim(repr(module_name))}: {verbatim(exc)}") from None
    obj = getattr(module, attr, None)
    if not (isinstance(obj, type) and issubclass(obj, msgspec.Struct)):
        raise config_error(f"{named}: {verbatim(repr(attr))} is not a msgspec.Struct in {verbatim(repr(module_name))}")
    if obj.__struct_config__.array_like:
        raise config_error(f"{named}: array_like Structs cannot describe named fields")
    return obj
