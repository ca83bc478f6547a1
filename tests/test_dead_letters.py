"""Every bad line ends in the dead-letter target, raw, with file, line, offset and reason; good lines all arrive."""

from __future__ import annotations

import base64
import collections
from pathlib import Path

import msgspec
import pytest

from pump import replay
from pump.dev.broker import Broker
from tests.support.builders import EXAMPLES, config, write_lines
from tests.support.kafka import consumed, created

pytestmark = pytest.mark.integration

GOOD = [b'{"user": "u%d", "seq": %d}' % (i % 5, i) for i in range(40)]
BAD_JSONL = {
    b'{"user": "a", "seq": ': "json",
    b"[1, 2]": "not_object",
    b'{"user": "a", "seq": "x"}': "schema",
    b'{"seq": 3}': "key",
    b'{"user": null, "seq": 3}': "key",
    b'{"user": "\xff", "seq": 4}': "encoding",
    b'{"user": "a\x00", "seq": 5}': "json",
}


class Event(msgspec.Struct):
    seq: int
    user: str | None = None  # optional in the schema, so a missing or null key is a "key" problem


def read_letters(path: Path) -> list[dict]:
    return [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]


def raw_of(letter: dict) -> bytes:
    return letter["raw"].encode() if "raw" in letter else base64.b64decode(letter["raw_base64"])


async def test_bad_json_lines_go_to_the_dead_letter_file_raw_with_reason_and_position(
    broker: Broker, topic_name: str, tmp_path: Path
) -> None:
    lines = list(GOOD)
    for i, bad in enumerate(BAD_JSONL):
        lines.insert(3 + i * 5, bad)
    src = write_lines(tmp_path / "in.jsonl", lines)
    dlq = tmp_path / "dead.jsonl"
    await created(broker.bootstrap, topic_name, 3)
    cfg = config(src, topic_name, broker.bootstrap, key_field="user", schema="tests.test_dead_letters:Event",
                 dead_letter=str(dlq), chunk_bytes=128)  # fmt: skip
    report = await replay(cfg)
    assert (report.acknowledged, report.invalid, report.dead_lettered, report.exit_code) == (40, 7, 7, 0)
    letters = read_letters(dlq)
    assert sorted((raw_of(x), x["reason"]) for x in letters) == sorted(BAD_JSONL.items())
    body = src.read_bytes()
    for letter in letters:
        assert letter["file"] == str(src)
        assert body[letter["offset"] :].startswith(raw_of(letter))
        assert body[: letter["offset"]].count(b"\n") + 1 == letter["line"]
        assert letter["message"]
    got = await consumed(broker.bootstrap, topic_name, 40)
    assert collections.Counter(m.value for m in got) == collections.Counter(GOOD)


async def test_bad_csv_rows_and_an_unterminated_quote_are_dead_lettered(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    rows = (EXAMPLES / "rides.csv").read_text().splitlines()[:21]
    rows[4] += ",extra"  # line 5: wrong column count
    rows[9] = rows[9].replace("2020-07-01", "yesterday", 1)  # line 10: wrong type
    src = tmp_path / "rides.csv"
    src.write_text("\n".join(rows) + '\n1,"2020-07-01 00:00:00,unterminated')
    dlq = tmp_path / "dead.jsonl"
    cfg = config(src, topic_name, broker.bootstrap, key_field="PULocationID", schema="rides", dead_letter=str(dlq),
                 create_topic=True)  # fmt: skip
    report = await replay(cfg)
    assert (report.acknowledged, report.dead_lettered, report.exit_code) == (18, 3, 0)
    letters = read_letters(dlq)
    assert [(x["line"], x["reason"]) for x in letters] == [(5, "csv"), (10, "schema"), (22, "csv")]
    assert letters[0]["raw"] == rows[4] and "unterminated" in letters[2]["raw"]


@pytest.mark.parametrize("mode", ["batch", "callback", "sync"])
async def test_a_record_too_large_to_send_is_dead_lettered_as_delivery(
    broker: Broker, topic_name: str, tmp_path: Path, mode: str
) -> None:
    huge = b'{"user": "big", "seq": 1, "pad": "' + b"x" * (2 << 20) + b'"}'
    src = write_lines(tmp_path / "in.jsonl", [GOOD[0], huge, GOOD[1]])
    dlq = tmp_path / "dead.jsonl"
    report = await replay(config(src, topic_name, broker.bootstrap, key_field="user", dead_letter=str(dlq), create_topic=True,
                                 mode=mode))  # fmt: skip
    assert (report.acknowledged, report.failed, report.dead_lettered, report.exit_code) == (2, 1, 1, 0)
    [letter] = read_letters(dlq)
    assert (letter["line"], letter["reason"], letter["offset"]) == (2, "delivery", len(GOOD[0]) + 1)
    assert letter["message"].startswith("too_large") and raw_of(letter) == huge


async def test_dead_letters_to_a_topic(broker: Broker, topic_name: str, tmp_path: Path) -> None:
    src = write_lines(tmp_path / "in.jsonl", [GOOD[0], b"nope", GOOD[1], b"[]"])
    report = await replay(config(src, topic_name, broker.bootstrap, key_field="user", dead_letter=f"topic:{topic_name}-dlq",
                                 create_topic=True))  # fmt: skip
    assert (report.acknowledged, report.dead_lettered, report.exit_code) == (2, 2, 0)
    letters = sorted(
        (msgspec.json.decode(m.value) for m in await consumed(broker.bootstrap, f"{topic_name}-dlq", 2)),
        key=lambda x: x["line"],
    )
    assert [(x["line"], x["reason"], x["raw"]) for x in letters] == [(2, "json", "nope"), (4, "not_object", "[]")]
