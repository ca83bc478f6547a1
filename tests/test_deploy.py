"""The Kubernetes example (deploy/): valid for a pinned Kubernetes version, strictly, and a pump command that parses.

Validated offline with kubernetes-validate (the API's own OpenAPI schemas, strict: unknown fields fail).
"""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
import yaml

from pump.cli import build_parser
from tests.support.builders import ROOT_DIR

KUBERNETES = "1.33.0"  # backoffLimitPerIndex and podReplacementPolicy are GA from 1.33
JOB = ROOT_DIR / "deploy" / "pump-indexed-job.yaml"


def job() -> dict[str, Any]:
    return yaml.safe_load(JOB.read_text())  # type: ignore[no-any-return]


def test_the_indexed_job_is_valid_kubernetes_strictly() -> None:
    kubernetes_validate.validate(job(), KUBERNETES, strict=True)
    broken = copy.deepcopy(job())
    broken["spec"]["template"]["spec"]["containers"][0]["argz"] = []  # a typo strict validation must catch
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES, strict=True)


def test_the_job_runs_one_pump_shard_per_index_never_two_pods_on_one_index() -> None:
    spec = job()["spec"]
    assert spec["completionMode"] == "Indexed" and spec["podReplacementPolicy"] == "Failed"
    assert spec["backoffLimitPerIndex"] >= 1 and spec["template"]["spec"]["restartPolicy"] == "Never"
    container = spec["template"]["spec"]["containers"][0]
    args = build_parser().parse_args(container["args"])  # the flags exist and parse
    assert args.shard == str(spec["completions"]) == str(spec["parallelism"])  # I from $JOB_COMPLETION_INDEX
    assert "$(JOB_COMPLETION_INDEX)" in args.checkpoint and "$(JOB_COMPLETION_INDEX)" in args.dead_letter
    assert any(e["name"] == "JOB_COMPLETION_INDEX" for e in container["env"])
