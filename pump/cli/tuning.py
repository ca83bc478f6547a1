"""The command line owns its process, and tunes it for a replay: the garbage collector, Arrow's allocator, the C
library's. Each is measured, and each leaves a value the user set as it is; the library's ``replay()`` leaves all
three to its caller."""

from __future__ import annotations

import ctypes
import gc
import os
import platform

from pump.arrowlib import skip_numpy

#: glibc's ``mallopt`` parameters, and the values ``tune_malloc`` gives them (as the environment variables glibc reads
#: when a process starts, so that the processes a replay starts get them too).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
MALLOC = {"MALLOC_TRIM_THRESHOLD_": (M_TRIM_THRESHOLD, 256 << 20), "MALLOC_MMAP_THRESHOLD_": (M_MMAP_THRESHOLD, 32 << 20)}
ARENAS = 1  # this process's, by mallopt only: not put in the environment of what it starts (the embedded broker)


def tune_process() -> None:
    """All three, before anything is read."""
    tune_gc()
    tune_arrow_memory()
    tune_malloc()


def tune_gc() -> None:
    """The collector. A replay allocates a few objects per record (a future
    per send in callback mode, tuples, lists) that mostly die young and hold no cycles, so CPython's default of a
    collection every 700 allocations mostly rescans the same long-lived objects. Collect young objects every
    50,000 allocations instead, and move what start-up made (modules, settings) out of the collector's sight
    (``gc.freeze``). Measured (whole processes, alternating, 4 runs each): callback mode 3.37 -> 3.00 s for 200k
    records, batch 4.26 -> 4.11 s for 1M. The library's ``replay()`` leaves the collector to its caller."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def tune_arrow_memory() -> None:
    """And Arrow's allocator, read when pyarrow first allocates: the C library's (``ARROW_DEFAULT_MEMORY_POOL``)
    rather than the mimalloc of pyarrow's wheels, which either gives freed memory back at once and takes page
    faults to get it again (``MIMALLOC_PURGE_DELAY=0``: 262,000 faults and 1.45 s of system time for 1M rides as
    CSV, against 158,000 and 0.74 s) or keeps it (the default delay: 195 MB peak against 218 with 1 MiB chunks).
    Measured (1M rides, whole processes, alternating, 5 runs each, medians): CSV 5.48 s against 5.72, 6.45 CPU s
    against 6.79, 151 MB peak against 152; Parquet 6.36 s against 6.83, 6.51 CPU s against 7.03, 153 MB against
    157. Where the user picks mimalloc, it still gives memory back at once. And where numpy is installed, pyarrow
    imports it, whose OpenBLAS starts a thread per core that spins while idle: 2.7% of the CPU time of decoding CSV
    in a profile (``perf``), for BLAS that pump never calls; so pyarrow is imported without numpy
    (``pump.arrowlib``), and where numpy was imported before it (by a schema's module), OpenBLAS gets one thread
    (``OPENBLAS_NUM_THREADS``). Values the user set are kept."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    skip_numpy()


def tune_malloc() -> None:
    """And the C library's malloc, which Arrow allocates with (above) and Python's large objects too: keep what is freed
    for the next chunk instead of giving it back to the system and faulting it in again. A replay allocates and frees
    buffers of megabytes a chunk (each column's JSON text, the joined records, a record batch), from several threads;
    glibc serves allocations over its mmap threshold with fresh mappings, and returns the top of a heap past its trim
    threshold, both of which it moves as it goes, so the same buffers kept coming back as page faults. Fixed at 32 MiB
    and 256 MiB (``mallopt``, and ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` for the processes started from
    here), measured (1M rides, whole processes, the two alternating, 5 runs each, medians): Parquet 2.56 s against
    2.97, page faults 35,000 against 131,000, 0.27 s of system time against 0.51, peak 209 MB against 201; CSV 2.52 s
    against 3.07, 22,000 faults against 59,000, 155 MB against 148; JSON lines 15,000 faults against 39,000, level in
    time (3.17 s against 3.00, runs overlapping), 74 MB against 71.

    One arena (``M_ARENA_MAX`` 1) for every thread of this process (not of those it starts): glibc gives each thread
    that allocates an arena of its own (up to 8 a core), and each keeps what its thread freed, so the decode threads'
    buffers were held twice over. Measured (1M rides, Tansu, whole processes, the two alternating, 6 runs each,
    medians): Parquet peak 173 MB against 189, 2.22 s against 2.30, CPU level; CSV (5 each) 130 MB against 135, 2.12 s
    against 2.26. glibc only; elsewhere nothing changes."""
    if platform.libc_ver()[0] != "glibc":
        return
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # this process's own libc (find_library would run ldconfig)
    for name, (param, value) in MALLOC.items():
        if name in os.environ:  # the user's: glibc read it when this process started
            continue
        os.environ[name] = str(value)
        if mallopt is not None:
            mallopt(ctypes.c_int(param), ctypes.c_int(value))
    if mallopt is not None and "MALLOC_ARENA_MAX" not in os.environ:
        mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(ARENAS))
