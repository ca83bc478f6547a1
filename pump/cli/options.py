"""The command line's flags, generated from ``pump.config.SETTINGS``, and the config built back from them.

Every setting gets one flag (``--name-with-dashes`` unless it declares another),
its help, its default (from ``$ENV`` where it declares one) and its choices; the
flags that are not settings are the few below (``CLI_ONLY``). A test checks that
the two stay in step.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from typing import Any

from msgspec import inspect as mi

from pump.config import GROUPS, SETTINGS, ReplayConfig, Secret, Setting
from pump.errors import UsageError

PASSWORD_ENV = "PUMP_SASL_PASSWORD"
REGISTRY_PASSWORD_ENV = "PUMP_REGISTRY_PASSWORD"
#: Flags that configure the command rather than the replay: (dest, how the CLI uses it).
CLI_ONLY = {
    "sasl_password_file": "reads security.sasl_password (else $PUMP_SASL_PASSWORD)",
    "registry_password_file": "reads values.registry_password (else $PUMP_REGISTRY_PASSWORD)",
    "loop": "which event loop runs the replay",
    "verbose": "shows aiokafka's log",
}


def flag_of(name: str) -> str:
    """How the command line names a setting, for messages (``PumpError.render``)."""
    found = SETTINGS.get(name)
    if found is None:
        return name
    return found.flag or found.extra.get("via") or str(found.extra.get("metavar", name))


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    groups = {"": parser.add_argument_group("target")}
    for name, cls in GROUPS.items():
        groups[name] = parser.add_argument_group(name, (cls.__doc__ or "").strip().splitlines()[0])
    for s in SETTINGS.values():
        if s.extra.get("positional"):
            parser.add_argument(s.name, nargs="+", metavar=s.extra.get("metavar"), help=s.help)
        elif s.flag is not None:
            _add_flag(groups[s.group], s)
    groups["security"].add_argument("--sasl-password-file", metavar="FILE", help="file holding the SASL password")
    groups["values"].add_argument("--registry-password-file", metavar="FILE", help="file holding the registry's password")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop", help="event loop (default uvloop)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show aiokafka's log")


def _base(kind: mi.Type) -> mi.Type:
    if isinstance(kind, mi.UnionType):
        kinds = [k for k in kind.types if not isinstance(k, mi.NoneType)]
        return kinds[0] if len(kinds) == 1 else kind
    return kind


def add_setting(parser: Any, name: str, **override: Any) -> None:
    """A setting's flag as ``pump replay`` has it, for another command that takes it too (``pump plan``, ``pump
    bench``); ``override``: what that command says otherwise (its default, that it is required)."""
    _add_flag(parser, SETTINGS[name], **override)


def _add_flag(group: Any, s: Setting, **override: Any) -> None:
    assert s.flag is not None
    if "default" in override:
        s = replace(s, default=override.pop("default"))
    kind = _base(s.type)
    names = [s.flag, *s.extra.get("aliases", ())]
    common: dict[str, Any] = {"dest": s.name, "help": s.help, **override}
    if isinstance(kind, mi.BoolType):
        group.add_argument(*names, action="store_false" if s.default else "store_true", **common)
        return
    if isinstance(kind, mi.DictType):
        group.add_argument(*names, action="append", default=[], metavar=s.extra.get("metavar"), **common)
        return
    required = common.pop("required", s.default is mi.NODEFAULT)
    default = None if s.default is mi.NODEFAULT else s.default
    if default is not None and s.extra.get("flag_unit") == "ms":
        default = default * 1000
    if s.extra.get("env"):
        default = os.environ.get(s.extra["env"], default)
        common["help"] += f" (default ${s.extra['env']}, else {s.default})"
    elif default is not None:
        common["help"] += f" (default {default:g})" if isinstance(default, float) else f" (default {default})"
    if "const" in s.extra:  # the flag alone means this value: --idempotence == --idempotence on
        common["nargs"], common["const"] = "?", s.extra["const"]
    if isinstance(kind, mi.LiteralType):
        common["choices"] = list(kind.values)
    elif isinstance(kind, mi.UnionType) and any(isinstance(k, mi.IntType | mi.FloatType) for k in kind.types):
        common["type"], common["metavar"] = _number_or_word, s.extra.get("metavar")  # --processes 2 | auto, --speed 60 | max
    else:
        common["type"] = {mi.IntType: int, mi.FloatType: float}.get(type(kind), str)
        common["metavar"] = s.extra.get("metavar", "MS" if s.extra.get("flag_unit") == "ms" else None)
    group.add_argument(*names, default=default, required=required, **common)


def _number_or_word(text: str) -> int | float | str:
    if text.strip().isdigit():
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def config_from_args(args: argparse.Namespace) -> ReplayConfig:
    values: dict[str, Any] = {}
    for s in SETTINGS.values():
        if s.flag is None and not s.extra.get("positional"):
            continue
        value = getattr(args, s.name)
        if s.extra.get("flag_unit") == "ms":
            value = value / 1000
        elif isinstance(s.type, mi.DictType):
            value = _pairs(value, s.flag or s.name)
        values[s.name] = value
    values["sasl_password"] = read_password(args.sasl_password_file)
    values["registry_password"] = read_password(args.registry_password_file, "--registry-password-file", REGISTRY_PASSWORD_ENV)
    return ReplayConfig.of(values.pop("paths"), values.pop("topic"), **values)


def _pairs(pairs: list[str], flag: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def read_password(password_file: str | None, flag: str = "--sasl-password-file", env: str = PASSWORD_ENV) -> Secret | None:
    """A password (SASL's, the registry's): from the file when one is named, else from ``$env``; never a flag's value."""
    if password_file is not None:
        try:
            with open(password_file, encoding="utf-8") as f:
                return Secret(f.read().rstrip("\r\n"))
        except OSError as exc:
            raise UsageError(f"{flag} {password_file}: {exc.strerror or exc}") from None
    value = os.environ.get(env)
    return Secret(value) if value else None


def _csv(kind: type) -> Any:
    def parse(text: str) -> tuple[Any, ...]:
        try:
            values = tuple(kind(v.strip()) for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {kind.__name__}s, got {text!r}") from None
        if not values:
            raise argparse.ArgumentTypeError("expected at least one value")
        return values

    return parse


#: The replay settings ``pump bench`` takes lists of, each combination of their values a run: (setting, the bench's flag,
#: its default). Each value is as ``pump replay``'s flag takes it.
BENCH_LISTS = (
    ("mode", "--modes", "batch"),
    ("acks", "--acks", "1"),
    ("compression", "--compression", "none"),
    ("linger", "--linger-ms", "5"),
    ("batch_bytes", "--batch-bytes", "1048576"),
    ("processes", "--processes", "1"),
)


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """``pump bench``'s own flags, and the replay settings it shares; the replay options it passes through are parsed
    by ``bench_config``."""
    add_setting(parser, "bootstrap_servers")
    parser.add_argument("--topic", metavar="NAME", help="the bench's own topic (must not exist; default: a new name)")
    parser.add_argument("--rows", type=int, default=200_000, metavar="N", help="synthetic rides when no INPUT (default 200000)")
    for name, flag, default in BENCH_LISTS:
        _add_list(parser, SETTINGS[name], flag, default)
    parser.add_argument("--repeat", type=int, default=3, metavar="K", help="runs of each combination (default 3)")
    parser.add_argument("--max-seconds", type=float, metavar="S", help="time-box each run (SIGINT after S seconds)")
    add_setting(parser, "partitions", default=8)
    parser.add_argument("--keep-topic", action="store_true", help="do not delete the topic afterwards")
    parser.add_argument("--report-json", metavar="FILE", help="every run's figures, as JSON")
    parser.add_argument("--html", metavar="FILE", help="a page with the table and charts (needs pump[charts]: matplotlib)")


def _add_list(parser: argparse.ArgumentParser, s: Setting, flag: str, default: str) -> None:
    """A flag taking one or more of a setting's values, comma-separated, as ``pump replay``'s flag takes each."""
    kind = _base(s.type)
    convert = {mi.IntType: int, mi.FloatType: float}.get(type(kind), str)
    metavar = s.extra.get("metavar") or ("MS" if s.extra.get("flag_unit") == "ms" else flag.removeprefix("--").upper())
    if isinstance(kind, mi.UnionType):  # --processes N|auto: numbers here
        convert, metavar = int, "N"
    of = f" of {', '.join(map(str, kind.values))}" if isinstance(kind, mi.LiteralType) else ""
    parser.add_argument(flag, type=_csv(convert), default=_csv(convert)(default), dest=flag.removeprefix("--").replace("-", "_"),
                        metavar=f"{metavar},...", help=f"{s.help}: one value or several{of}, comma-separated, each a run of"
                        f" its own (default {default})")  # fmt: skip


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    """``pump verify``: every ``pump replay`` flag (the replay's command, with verify for replay), and where to read from."""
    add_replay_arguments(parser)
    start = parser.add_argument_group("verify", "where the read of the topic starts (default: each partition's start)")
    where = start.add_mutually_exclusive_group()
    where.add_argument("--from-timestamp", type=int, metavar="MS", help="the first record at or after this time (epoch ms)")
    where.add_argument("--from-offsets", type=_offsets, metavar="P:O,...", help="partition P from offset O (others: start)")


def _offsets(text: str) -> dict[int, int]:
    try:
        pairs = [part.split(":") for part in text.split(",") if part.strip()]
        offsets = {int(p): int(o) for p, o in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PARTITION:OFFSET,..., got {text!r}") from None
    if not offsets or any(p < 0 or o < 0 for p, o in offsets.items()):
        raise argparse.ArgumentTypeError(f"expected PARTITION:OFFSET,... of numbers from 0, got {text!r}")
    return offsets


NO_INPUT = "\0pump-bench-no-input"


def bench_config(rest: list[str]) -> tuple[str | None, list[str], ReplayConfig]:
    """The bench's INPUT (if given) and the replay options passed through, checked as ``pump replay`` checks
    them (a bad one is one line before anything runs), and the config they make (for its security settings)."""

    class _Refusing(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            raise UsageError(message)

    parser = _Refusing(prog="pump bench", add_help=False)
    add_replay_arguments(parser)
    args = parser.parse_intermixed_args(["--topic", "bench", "--bootstrap-servers", "localhost:9092", *rest, NO_INPUT])
    given = [p for p in args.paths if p != NO_INPUT]
    if len(given) > 1:
        raise UsageError(f"pump bench takes one INPUT, got {len(given)}: {' '.join(given)}")
    passed = list(rest)
    if given:
        passed.remove(given[0])
    args.paths = given or ["-"]
    return (given[0] if given else None), passed, config_from_args(args)
