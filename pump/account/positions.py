"""Exactly once's names: whose positions a transaction commits, under which key, with which transactional id.

A job is one replay of some inputs into a topic. Each of its members (a shard, a process of a shard) is a producer of
its own with a transactional id of its own, and the positions it commits beside its records are keyed by that id in
the positions topic: the same command resumes each member from its own key, on any machine, and a second pump with
the same id fences the first. The id is derived from what makes the job (the topic and the inputs, as named), so it
is the same on every restart; ``--transactional-id`` names the job instead.
"""

from __future__ import annotations

import hashlib

from pump.config import ReplayConfig


def job_of(config: ReplayConfig) -> str:
    """The job's name: ``--transactional-id`` as given, else ``pump-<topic>-<digest of the topic and inputs>``."""
    given = config.transactions.transactional_id
    if given:
        return given
    digest = hashlib.sha256("\0".join([config.topic, *config.input.paths]).encode()).hexdigest()[:12]
    return f"pump-{config.topic}-{digest}"


def member_of(job: str, shard: tuple[int, int] | None, part: tuple[int, int] | None) -> str:
    """The transactional id, and positions key, of shard ``shard[0]`` (of ``shard[1]``), process ``part[0]``: the job's
    name, then ``/shard-I`` and ``/process-J`` where the run has them. The counts are not in it: a resume with other
    counts finds the positions it wrote, and refuses them (their pieces would not line up)."""
    name = job
    if shard is not None:
        name += f"/shard-{shard[0]}"
    if part is not None:
        name += f"/process-{part[0]}"
    return name
