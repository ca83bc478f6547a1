"""Two ``Detail``s of the same keys, compared: what is missing, twice, unexpected, on the wrong partition, out of order.

Per key, the records found are matched to those expected by hash, occurrence by occurrence (the second copy of a
record found is the second copy expected, if the input has two). What is expected more often than found is missing,
what is found more often than expected is a duplicate (or, never expected, unexpected). A match found on another
partition than the replay would pick is on the wrong partition. The matches found on the key's partition, read in
offset order, must be in input order; the first one that is not makes the key out of order.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from pump.verify.digest import Detail

#: Examples kept of each kind of finding.
EXAMPLES = 5


@dataclass
class Findings:
    """Counts of each kind, and a few examples of each, in words (where in the inputs, where in the topic)."""

    missing: int = 0
    duplicated: int = 0
    unexpected: int = 0
    wrong_partition: int = 0
    reordered_keys: int = 0
    _kept: dict[str, list[tuple[tuple[str, int], str]]] = field(default_factory=lambda: defaultdict(list))

    def note(self, kind: str, example: str, first: tuple[str, int]) -> None:
        """One more of ``kind``; ``first``: where it is (input and line, or ``""`` and partition and offset as one
        number), for the examples to be the first ones."""
        setattr(self, kind, getattr(self, kind) + 1)
        kept = self._kept[kind]
        if len(kept) < EXAMPLES or first < kept[-1][0]:
            bisect.insort(kept, (first, example))
            del kept[EXAMPLES:]

    @property
    def examples(self) -> dict[str, list[str]]:
        """Of each kind found, the first few: in input order, then in topic order."""
        return {kind: [text for _, text in kept] for kind, kept in self._kept.items() if kept}

    @property
    def exact(self) -> bool:
        return not (self.missing or self.duplicated or self.unexpected or self.wrong_partition or self.reordered_keys)


def at_line(name: str, line: int) -> str:
    return f"{name}:{line}"


def compare(expected: Detail, found: Detail, into: Findings) -> None:
    """Notes in ``into`` what differs between the records of each key ``expected`` and ``found`` hold."""
    for key in expected.keys.keys() | found.keys.keys():
        _compare_key(key, expected.keys.get(key, []), found.keys.get(key, []), into)


def _compare_key(key: bytes | None, expected: list[tuple[int, str, int, int]], found: list[tuple[int, str, int, int]],
                 into: Findings) -> None:  # fmt: skip
    where: dict[int, list[int]] = defaultdict(list)  # each hash's positions in the expected order
    for i, (h, *_rest) in enumerate(expected):
        where[h].append(i)
    seen: dict[int, int] = defaultdict(int)
    matched: list[int] = []  # the expected positions of the matches on the key's partition, in the order found
    for h, _, offset, partition in found:
        k = seen[h]
        seen[h] += 1
        places = where.get(h, [])
        if k >= len(places):
            if places:
                _, name, line, _p = expected[places[0]]
                into.note("duplicated", f"{at_line(name, line)} again at partition {partition} offset {offset}", (name, line))
            else:
                into.note("unexpected", f"partition {partition} offset {offset} (key {_shown(key)})", ("", offset))
            continue
        i = places[k]
        _, name, line, want = expected[i]
        if key is not None and partition != want:  # a record without a key may go anywhere
            into.note("wrong_partition", f"{at_line(name, line)} at partition {partition} offset {offset}, not {want}",
                      (name, line))  # fmt: skip
        elif key is not None:
            matched.append(i)
    for h, places in where.items():
        for i in places[seen.get(h, 0) :]:
            _, name, line, partition = expected[i]
            into.note("missing", f"{at_line(name, line)} (key {_shown(key)}, partition {partition})", (name, line))
    for before, after in itertools.pairwise(matched):
        if after < before:
            _, name, line, _p = expected[after]
            _, name0, line0, _p0 = expected[before]
            into.note("reordered_keys", f"key {_shown(key)}: {at_line(name, line)} found after {at_line(name0, line0)}",
                      (name, line))  # fmt: skip
            break


def _shown(key: bytes | None) -> str:
    if key is None:
        return "none"
    text = key.decode("utf-8", "backslashreplace")
    return repr(text if len(text) <= 40 else text[:37] + "...")
