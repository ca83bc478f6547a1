"""What ``pump verify`` says: the counts on each side, what differs (with examples), and the verdict."""

from __future__ import annotations

import msgspec

#: The kinds of difference, in the order the report lists them, with what a line of the report calls them.
KINDS = {
    "missing": "missing",
    "duplicated": "twice",
    "unexpected": "unexpected",
    "wrong_partition": "partition",
    "reordered_keys": "order",
}


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    """``expected``: the records the replay of the inputs sends (``invalid`` lines and ``not_sent`` records, too large
    to send, are not expected); ``found``: the records read, as a ``read_committed`` consumer sees them. Each kind of
    difference is counted, with ``examples`` of each (where in the inputs, where in the topic)."""

    topic: str
    partitions: int
    read_from: str
    files: int
    lines: int
    expected: int
    invalid: int
    not_sent: int
    found: int
    missing: int = 0
    duplicated: int = 0
    unexpected: int = 0
    wrong_partition: int = 0
    reordered_keys: int = 0
    examples: dict[str, list[str]] = msgspec.field(default_factory=dict)
    passes: int = 1  # the times the inputs and the topic were read (more where digests differed)
    seconds: float = 0.0

    @property
    def exact(self) -> bool:
        return not any(getattr(self, kind) for kind in KINDS)

    @property
    def exit_code(self) -> int:
        return 0 if self.exact else 1

    def to_json(self) -> bytes:
        return msgspec.json.encode({**msgspec.structs.asdict(self), "exact": self.exact, "exit_code": self.exit_code})

    def to_text(self) -> str:
        skipped = [_n(self.invalid, "invalid line"), _n(self.not_sent, "record") + " too large to send"]
        skipped = [s for s, n in zip(skipped, (self.invalid, self.not_sent), strict=True) if n]
        lines = [
            f"pump verify <- topic {self.topic!r} ({self.partitions} partitions, read_committed)",
            f"  input     {self.files} file(s), {self.lines:,} lines: {self.expected:,} records expected"
            + (f" ({', '.join(skipped)}: not sent by a replay)" if skipped else ""),
            f"  topic     {self.found:,} records found, {self.read_from}",
        ]
        for kind, label in KINDS.items():
            count = getattr(self, kind)
            if count:
                what = _n(count, "key" if kind == "reordered_keys" else "record")
                lines.append(f"  {label:<9} {what}, e.g. " + "; ".join(self.examples.get(kind, [])))
        lines.append(f"  took      {self.seconds:.1f} s, {self.passes} pass(es) over the inputs and the topic")
        lines.append("  result    " + _verdict(self))
        return "\n".join(lines)


def _n(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _verdict(r: VerifyReport) -> str:
    if r.exact:
        return "OK: every record expected is in the topic once, on its key's partition, in input order"
    return "MISMATCH: the topic does not hold the inputs' records exactly once (see above)"
