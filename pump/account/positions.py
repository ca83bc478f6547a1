"""Exactly once's names: whose positions a transaction commits, under which key, with which transactional id.

A job is one replay of some inputs into a topic. Each of its members (a shard, a process of a shard) is a producer of
its own with a transactional id of its own, and the positions it commits beside its records are keyed by that id in
the positions topic: the same command resumes each member from its own key, on any machine, and a second pump with
the same id fences the first. The id is derived from what makes the job (the topic and the inputs, as named), so it
is the same on every restart; ``--transactional-id`` names the job instead.

A member's name holds the layout it belongs to (``/shard-I-of-N``, ``/process-J-of-P``): each member sends its own
share of the records, so positions committed under another layout (other counts of shards or processes) do not line
up with this one's. A run that finds any is refused (``laid_out_otherwise``), as a checkpoint of another process
count is; with ``--restart`` the first commit deletes them.
"""

from __future__ import annotations

import hashlib
import re

from pump.config import ReplayConfig


def job_of(config: ReplayConfig) -> str:
    """The job's name: ``--transactional-id`` as given, else ``pump-<topic>-<digest of the topic and inputs>``."""
    given = config.transactions.transactional_id
    if given:
        return given
    digest = hashlib.sha256("\0".join([config.topic, *config.input.paths]).encode()).hexdigest()[:12]
    return f"pump-{config.topic}-{digest}"


def member_of(job: str, shard: tuple[int, int] | None, part: tuple[int, int] | None) -> str:
    """The transactional id, and positions key, of shard ``shard[0]`` of ``shard[1]``, process ``part[0]`` of
    ``part[1]``: the job's name, then ``/shard-I-of-N`` and ``/process-J-of-P`` where the run has them."""
    name = job
    if shard is not None:
        name += f"/shard-{shard[0]}-of-{shard[1]}"
    if part is not None:
        name += f"/process-{part[0]}-of-{part[1]}"
    return name


def of_job(job: str, key: str) -> bool:
    """Whether ``key`` is the name of one of ``job``'s members."""
    return key == job or key.startswith(job + "/")


def laid_out_otherwise(job: str, member: str, keys: list[str]) -> list[str]:
    """The members of ``job`` among ``keys`` that belong to another layout than ``member`` (other shard or process
    counts, or none where it has some): their positions are not of this run's pieces."""
    mine = _layout(member[len(job) :])
    return [key for key in keys if of_job(job, key) and _layout(key[len(job) :]) != mine]


def _layout(suffix: str) -> str:
    return re.sub(r"-\d+-of-", "-*-of-", suffix)
