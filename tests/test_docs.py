"""The docs say what pump does: every command they show runs as written (or, where it needs a real cluster, is parsed
by pump's own parser), the options page is what the settings table makes, their links lead somewhere, and every
description of pump names what it reads."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

import pump
from pump.cli import build_parser
from pump.cli.options import bench_config, config_from_args
from pump.dev.broker import Broker
from tests.support.builders import ROOT_DIR

sys.path.insert(0, str(ROOT_DIR / "docs"))
import make_options

PAGES = [ROOT_DIR / "README.md", ROOT_DIR / "CONTRIBUTING.md", *sorted((ROOT_DIR / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
_MARK = re.compile(r"<!-- (run|check) -->\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    mark: str | None  # "run", "check", or None
    text: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT_DIR)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The page's fenced code blocks, each with the mark on the line before it, if any."""
    text = page.read_text()
    found = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = _MARK.search(before)
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(page, line, match.group(1), mark.group(1) if mark else None, match.group(2)))
    return found


ALL = [block for page in PAGES for block in blocks(page)]
SHELL = [b for b in ALL if b.language == "sh"]


def commands(block: Block) -> list[list[str]]:
    """The block's commands as argument lists: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", block.text)
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def test_every_shell_block_is_marked_to_run_or_to_check() -> None:
    unmarked = [str(b) for b in SHELL if b.mark is None]
    assert not unmarked, f"a shell block with neither <!-- run --> nor <!-- check --> before it: {unmarked}"
    marked_elsewhere = [str(b) for b in ALL if b.mark is not None and b.language not in ("sh", "python")]
    assert not marked_elsewhere, f"only sh and python blocks can run: {marked_elsewhere}"
    assert [b for b in SHELL if b.mark == "run"] and [b for b in SHELL if b.mark == "check"]


@pytest.mark.parametrize("block", [b for b in SHELL if b.mark == "check"], ids=str)
def test_each_pump_command_the_docs_show_is_one_pump_takes(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsed as the command line parses it and made into the config it would run (every flag known, every value
    valid); nothing is read or connected to. Other commands (pip, make, docker, kubectl) are for the reader."""
    monkeypatch.setenv("PUMP_SASL_PASSWORD", "checked-here")
    checked = 0
    for words in commands(block):
        if words[0] == "export":
            name, _, value = words[1].partition("=")
            monkeypatch.setenv(name, value)
            continue
        if words[0] != "pump":
            continue
        args, rest = build_parser().parse_known_args(words[1:])
        if args.command == "bench":
            bench_config(rest)
        else:
            assert not rest, f"{block}: unknown arguments {rest}"
        if args.command in ("replay", "verify"):
            config_from_args(args)
        checked += 1
    assert checked or all(words[0] != "pump" for words in commands(block)), block


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A folder like a clone's top, where a runnable block starts: the examples, nothing else."""
    shutil.copytree(ROOT_DIR / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("out", "*.py"))
    return tmp_path


@pytest.mark.parametrize("block", [b for b in ALL if b.mark == "run"], ids=str)
def test_each_runnable_block_runs_as_written(block: Block, scratch: Path, broker: Broker) -> None:
    """Against the embedded broker: the session's (``$PUMP_BOOTSTRAP_SERVERS``), or one of its own where the block
    says ``embedded``; with pump, and the Python it runs on, first on the PATH."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PUMP_BOOTSTRAP_SERVERS": broker.bootstrap, "PATH": bin_dir + os.pathsep + os.environ["PATH"],
           "PYTHONPATH": str(ROOT_DIR)}  # fmt: skip
    cmd = [sys.executable, "-c", block.text] if block.language == "python" else ["bash", "-euo", "pipefail", "-c", block.text]
    proc = subprocess.run(cmd, cwd=scratch, env=env, capture_output=True, timeout=180)
    assert proc.returncode == 0, f"{block} exited {proc.returncode}:\n{proc.stdout.decode()}\n{proc.stderr.decode()}"


def test_the_options_page_is_what_the_settings_table_makes() -> None:
    assert (ROOT_DIR / "docs" / "options.md").read_text() == make_options.render(), "run: python docs/make_options.py"


def test_every_setting_and_flag_is_on_the_options_page() -> None:
    page = (ROOT_DIR / "docs" / "options.md").read_text()
    missing = [s.name for s in pump.SETTINGS.values() if f"`{s.name}`" not in page]
    assert not missing, missing


_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT_DIR)))
def test_every_link_to_another_page_or_a_file_leads_somewhere(page: Path) -> None:
    broken = []
    for target in _LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or (anchor and file.suffix == ".md" and anchor not in _anchors(file)):
            broken.append(target)
    assert not broken, f"{page.name}: {broken}"


def test_the_readme_is_for_users_in_at_most_300_lines() -> None:
    readme = (ROOT_DIR / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    assert "make demo" in readme and "make test" in readme


def test_every_description_of_pump_says_what_it_reads() -> None:
    descriptions = {
        "README": (ROOT_DIR / "README.md").read_text().split("\n\n")[1],
        "pump/__init__.py": (pump.__doc__ or "").splitlines()[0],
        "pump --help": build_parser().description or "",
        "pyproject.toml": tomllib.loads((ROOT_DIR / "pyproject.toml").read_text())["project"]["description"],
    }
    for where, text in descriptions.items():
        assert all(word in text for word in ("CSV", "JSON", "Parquet", "Kafka")), f"{where}: {text!r}"
