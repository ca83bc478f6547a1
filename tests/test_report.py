"""The report: its exit status, its latency figures, and its wording."""

from __future__ import annotations

import random
import signal
from types import SimpleNamespace

import pytest

from pump.account import Ledger
from pump.account.latency import LatencyHistogram
from pump.config import ReplayConfig
from pump.errors import InputError
from pump.observe import Ending, build_report, exit_status


def ledger(**counts: int) -> Ledger:
    led = Ledger()
    for name, value in counts.items():
        setattr(led, name, value)
    return led


@pytest.mark.parametrize(
    ("counts", "ending", "status"),
    [
        ({"records": 10, "sent": 10, "acked": 10}, Ending(), 0),
        ({"records": 10, "sent": 10, "acked": 9, "failed": 1}, Ending(), 1),  # failed, no dead letter
        ({"records": 10, "sent": 10, "acked": 9, "failed": 1, "dead_lettered": 1}, Ending(), 0),
        ({"records": 9, "sent": 9, "acked": 9, "invalid": 1}, Ending(), 1),
        ({"records": 9, "sent": 9, "acked": 9, "invalid": 1, "dead_lettered": 1}, Ending(), 0),
        ({"records": 10, "sent": 10, "acked": 8}, Ending(), 1),  # unsettled
        ({"records": 10, "sent": 10, "acked": 10}, Ending(aborted="max errors"), 1),
        ({"records": 10, "sent": 10, "acked": 10}, Ending(error=InputError("f", "bad")), 2),
        ({"records": 10, "sent": 10, "acked": 3}, Ending(error=InputError("f", "bad"), interrupted=signal.SIGINT), 130),
        ({"records": 10, "sent": 10, "acked": 10}, Ending(interrupted=signal.SIGTERM), 143),
    ],
)
def test_exit_status(counts: dict[str, int], ending: Ending, status: int) -> None:
    assert exit_status(ledger(**counts), ending) == status


@pytest.mark.parametrize("seed", range(3))
def test_latency_quantiles_are_within_two_percent_of_the_exact_ones(seed: int) -> None:
    rnd = random.Random(seed)
    samples = [rnd.lognormvariate(-4, 1.5) for _ in range(20_000)]
    h = LatencyHistogram()
    for s in samples:
        h.record(s)
    exact = sorted(samples)
    for q in (0.5, 0.95, 0.99):
        want = exact[int(q * len(exact)) - 1]
        assert abs(h.quantile(q) - want) / want < 0.02
    assert h.quantile(1.0) == h.max == exact[-1] and h.count == 20_000


def test_a_batch_weighs_as_its_records_and_empty_means_zero() -> None:
    h = LatencyHistogram()
    assert h.quantile(0.5) == 0.0
    h.record(0.010, weight=99)
    h.record(1.0, weight=1)
    h.record(5.0, weight=0)  # no records: not counted
    assert h.count == 100 and h.max == 1.0
    assert 0.0098 < h.quantile(0.99) < 0.0102 and h.quantile(1.0) == 1.0


@pytest.mark.parametrize(("partitions", "words"), [(1, "(1 partition)"), (8, "(8 partitions)")])
def test_the_report_counts_partitions_in_good_english(partitions: int, words: str) -> None:
    config = ReplayConfig.of("x.jsonl", "rides")
    sink = SimpleNamespace(partitions=partitions, idempotent=True, warnings=["a note"])
    text = build_report(config, ledger(records=1, sent=1, acked=1), sink, Ending()).to_text().splitlines()
    assert text[0] == f"pump replay -> topic 'rides' {words}, mode batch"
    assert text[3] == "  delivery  1 sent, 1 acknowledged, 0 failed (acks=all, idempotent)"
    assert text[-2:] == ["  warning   a note", "  result    OK: every record acknowledged"]
