"""What pump reaches into past aiokafka's public API (``pump.output.kafka.internals``), checked against the installed
aiokafka: an upgrade that moves any of it fails here, naming what moved and what pump then does without it."""

from __future__ import annotations

import aiokafka
import pytest

from pump.output.kafka import internals
from pump.output.kafka.expiry import outstanding


def test_every_reach_into_aiokafka_holds_for_the_installed_release() -> None:
    moved = internals.moved()
    assert not moved, f"aiokafka {aiokafka.__version__} moved what pump reaches into:\n" + "\n".join(moved)


def test_the_installed_aiokafka_is_a_release_the_reaches_were_checked_against() -> None:
    assert aiokafka.__version__ in internals.WRITTEN_AGAINST, (
        f"aiokafka {aiokafka.__version__} is not one of {internals.WRITTEN_AGAINST}: read internals.REACHES against it"
        " (each reach's code and guard), then add it"
    )


def test_a_reach_that_moved_is_named_with_what_pump_does_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    class Moved:  # a BatchBuilder whose state has other names
        def __init__(self, *args: object) -> None:
            self.count = 0

    monkeypatch.setattr(internals, "BatchBuilder", Moved)
    moved = internals.moved()
    assert [line.split(":")[0] for line in moved] == ["batch.KafkaBatch.extend", "batch.FramedBatch"]
    assert "lacks BatchBuilder._builder" in moved[0] and "one call each" in moved[0]
    assert "nothing is framed on the decode threads" in moved[1]


def test_a_producer_without_the_accumulator_pump_reads_has_nothing_outstanding() -> None:
    assert outstanding(object()) == []  # type: ignore[arg-type]
