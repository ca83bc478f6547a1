"""The command line's tuning of its own process: what it sets, and what it leaves to the user."""

from __future__ import annotations

import os
import platform

import pytest

from pump.cli.tuning import MALLOC, tune_malloc


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_malloc_thresholds_are_set_for_this_process_and_the_ones_it_starts_and_the_users_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "123456")  # the user's, read by glibc when the process started
    tune_malloc()
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "123456"
    assert os.environ["MALLOC_MMAP_THRESHOLD_"] == str(MALLOC["MALLOC_MMAP_THRESHOLD_"][1]) == str(32 << 20)
