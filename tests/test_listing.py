"""Folders and globs made files: by name, hidden and unfinished files skipped, --recursive, --include/--exclude,
local and through fsspec (its in-memory filesystem here; S3 through moto in test_remote.py)."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pytest

from pump.errors import InputError
from pump.input.listing import Listing, expand


def tree(root: Path) -> Path:
    for name in ("b.jsonl", "a.csv", "_SUCCESS", ".hidden.jsonl", "c.jsonl.tmp", "d.partial", "e.crc", "sub/f.jsonl",
                 "sub/.hid/g.jsonl", "_temporary/h.jsonl", "sub/deeper/i.parquet"):  # fmt: skip
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("{}\n")
    return root


def names(found: tuple[str, ...], root: Path) -> list[str]:
    return [str(Path(p).relative_to(root)) for p in found]


def test_a_folder_is_its_files_by_name_without_hidden_or_unfinished_ones(tmp_path: Path) -> None:
    root = tree(tmp_path)
    assert names(expand([str(root)]), root) == ["a.csv", "b.jsonl"]
    assert names(expand([str(root)], Listing(recursive=True)), root) == [
        "a.csv",
        "b.jsonl",
        "sub/deeper/i.parquet",
        "sub/f.jsonl",
    ]


def test_globs_match_names_and_any_depth(tmp_path: Path) -> None:
    root = tree(tmp_path)
    assert names(expand([f"{root}/*.jsonl"]), root) == ["b.jsonl"]
    assert names(expand([f"{root}/**/*.jsonl"]), root) == ["b.jsonl", "sub/f.jsonl"]
    assert names(expand([f"{root}/s?b/*"]), root) == ["sub/f.jsonl"]


def test_include_and_exclude_choose_by_name_and_a_file_named_is_always_read(tmp_path: Path) -> None:
    root = tree(tmp_path)
    assert names(expand([str(root)], Listing(include=("*.tmp", "_*"))), root) == ["_SUCCESS", "c.jsonl.tmp"]
    assert names(expand([str(root)], Listing(recursive=True, exclude=("*.parquet",))), root) == ["a.csv", "b.jsonl",
                                                                                                 "sub/f.jsonl"]  # fmt: skip
    assert expand([str(root / "_SUCCESS"), "-", str(root)]) == (str(root / "_SUCCESS"), "-", str(root / "a.csv"),
                                                                str(root / "b.jsonl"))  # fmt: skip


def test_a_folder_or_glob_with_nothing_to_read_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "_SUCCESS").write_text("")
    with pytest.raises(InputError, match=r"empty: holds no file to read \(--recursive\?\)"):
        expand([str(tmp_path / "empty")])
    with pytest.raises(InputError, match=r"\*\.parquet: matches no file"):
        expand([f"{tmp_path}/*.parquet"])


def test_urls_are_listed_by_their_own_filesystem() -> None:
    fs = fsspec.filesystem("memory")
    for name in ("2025/01.jsonl", "2025/02.jsonl", "2025/_SUCCESS", "2025/_temporary/03.jsonl", "2025/more/04.jsonl"):
        fs.pipe(f"/landing/{name}", b"{}\n")
    assert expand(["memory://landing/2025/"]) == ("memory:///landing/2025/01.jsonl", "memory:///landing/2025/02.jsonl")
    assert expand(["memory://landing/2025/"], Listing(recursive=True))[-1] == "memory:///landing/2025/more/04.jsonl"
    assert len(expand(["memory://landing/2025/"], Listing(recursive=True))) == 3
    assert expand(["memory://landing/**/0[24].jsonl"]) == (
        "memory:///landing/2025/02.jsonl",
        "memory:///landing/2025/more/04.jsonl",
    )
    with pytest.raises(InputError, match="matches no object"):
        expand(["memory://landing/*.csv"])


def test_a_web_url_is_one_object_even_with_a_query() -> None:
    signed = "https://example.com/trips/2025-01.parquet?X-Amz-Signature=abc&X-Amz-Expires=60"
    assert expand([signed, "http://example.com/rides.jsonl"]) == (signed, "http://example.com/rides.jsonl")
