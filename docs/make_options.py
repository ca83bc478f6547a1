"""Writes docs/options.md: every command's every option, from the settings table (``pump/config.py``) and the
parsers made from it (``pump.cli``), so that the page cannot say what the command line does not.

Run `python docs/make_options.py` after changing a setting or a flag; ``tests/test_docs.py`` fails while the
committed page differs from what this prints.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pump.cli import build_parser  # noqa: E402
from pump.config import SETTINGS, Setting  # noqa: E402

PAGE = ROOT / "docs" / "options.md"
COMMANDS = {
    "replay": "`pump replay PATH... --topic TOPIC [options]`: replay inputs into a topic.",
    "plan": "`pump plan --shards N PATH...`: which pieces of the inputs each of N shards (`--shard I/N`) replays.",
    "bench": "`pump bench [INPUT] [options] [replay options]`: every combination of the values listed, each a whole"
    " `pump replay` process, side by side ([send-modes.md](send-modes.md)). Any `pump replay` option not listed here"
    " is passed through to every run.",
    "verify": "`pump verify PATH... --topic TOPIC [replay options]`: whether the topic holds the inputs' records exactly"
    " once, on their keys' partitions, in input order; the replay's command with `verify` for `replay`"
    " ([exactly-once.md](exactly-once.md#pump-verify)). It takes every `pump replay` option (those that change what is"
    " sent, such as `--schema`, `--key-field` and `--columns`, matter; `--shard` and `--processes` are ignored), and"
    " these:",
    "broker": "`pump broker`: the embedded development broker (Tansu, in memory) in the foreground, until Ctrl-C.",
}
HEAD = """# Every option

Every flag of every `pump` command, with its Python name for `pump.ReplayConfig.of(...)` ([python.md](python.md)).
This page is generated from pump's settings table by `python docs/make_options.py`, and a test fails when it is
stale; `pump COMMAND --help` says the same. The options most replays need are in the
[README](../README.md#the-options-people-need-first).
"""
ENVIRONMENT = """## Environment

| variable | what pump does with it |
|---|---|
| `PUMP_BOOTSTRAP_SERVERS` | the default of `--bootstrap-servers` |
| `PUMP_SASL_PASSWORD` | the SASL password, unless `--sasl-password-file` names a file (never a flag) |
| `JOB_COMPLETION_INDEX` | `I` of `--shard N` (a Kubernetes Indexed Job sets it: [scaling.md](scaling.md)) |
| `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`, ... | `s3://` inputs, as AWS's own tools read them \
([inputs.md](inputs.md)) |
| `ARROW_DEFAULT_MEMORY_POOL`, `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_` | set by the command line unless you \
set them: Arrow allocates with malloc, which keeps freed memory for reuse \
([performance.md](performance.md#memory-flat-from-1m-to-5m-records)) |
"""


def render() -> str:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    parts = [HEAD]
    for name, summary in COMMANDS.items():
        parts.append(f"## pump {name}\n\n{summary}\n")
        parts.extend(_groups(commands[name], replay=name == "replay", only="verify" if name == "verify" else None))
    parts.append(ENVIRONMENT)
    return "\n".join(parts)


def _groups(parser: argparse.ArgumentParser, replay: bool, only: str | None = None) -> list[str]:
    """The parser's option groups as tables (``only``: just the group of that title; the rest are replay's)."""
    out = []
    for group in parser._action_groups:
        if only is not None and group.title != only:
            continue
        actions = [a for a in group._group_actions if not isinstance(a, argparse._HelpAction)]
        if not actions:
            continue
        title = {"positional arguments": "inputs", "options": "the command itself"}.get(group.title or "")
        heading = f"### {title or group.title}" + (f": {group.description}" if group.description else "")
        python = replay and any(a.dest in SETTINGS for a in actions)
        head = "| option | default | meaning |" + (" Python |" if python else "")
        rows = [_row(a, SETTINGS.get(a.dest) if replay else None, python) for a in actions]
        out.append("\n".join([heading, "", head, "|---|---|---|" + ("---|" if python else ""), *rows, ""]))
    return out


def _row(action: argparse.Action, setting: Setting | None, python: bool) -> str:
    cells = [_flag(action), _default(action, setting), _cell(_help(action))]
    if python:
        read = next((s for s in SETTINGS.values() if set(action.option_strings) & set(str(s.extra.get("via")).split())), None)
        named = setting or read  # a flag of the command line only may read a setting that has no flag (a password)
        cells.append(f"`{named.name}`" if named is not None else "")
    return "| " + " | ".join(cells) + " |"


def _flag(action: argparse.Action) -> str:
    names = ", ".join(action.option_strings) or str(action.metavar or action.dest)
    if action.nargs == 0:
        return f"`{names}`"
    value = "|".join(map(str, action.choices)) if action.choices else str(action.metavar or action.dest.upper())
    if action.nargs == "?":
        value = f"[{value}]"
    if action.nargs == "+":
        return f"`{names} ...`"
    return _cell(f"`{names} {value}`")


def _default(action: argparse.Action, setting: Setting | None) -> str:
    shared = SETTINGS.get(action.dest)  # a setting's flag, in any command: its environment variable, not its value here
    if shared is not None and shared.extra.get("env"):
        return f"`${shared.extra['env']}`, else `{shared.default}`"
    if action.required:
        return "(required)"
    value: Any = action.default
    if setting is not None:
        value = setting.default if setting.extra.get("flag_unit") != "ms" else setting.default * 1000
    if value in (None, False, [], {}, argparse.SUPPRESS) or action.nargs == 0:
        return ""
    if isinstance(value, tuple):
        return _cell("`" + ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) + "`")
    return _cell(f"`{value:g}`" if isinstance(value, float) else f"`{value}`")


def _help(action: argparse.Action) -> str:
    text = action.help or ""
    return re.sub(r" \(default [^()]*(\([^()]*\)[^()]*)*\)$", "", text)  # the default has its own column


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("%%", "%")


if __name__ == "__main__":
    PAGE.write_text(render())
    print(f"wrote {PAGE.relative_to(ROOT)}")
