"""diffusion2d's red team in the real sandbox, each case with its exact outcome: samples that
copy the training points (a denoiser that snaps to points it memorised, exactly or with a
little noise) are flagged and never kept; a bigger model is flagged; more diffusion steps than
the budget and a rebound fixed name are refused before a container starts; and the job's data
file holds no held-out point, so no block can read one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from core.records import Outcome
from evaluators import registry
from evaluators.diffusion2d import data
from evaluators.kit.secrets import PUBLIC
from evaluators.redteam import DIFFUSION_MODEL, DIFFUSION_PULL, DIFFUSION_SNAP, edit
from store.lifecycle import keeps
from tests.integration.conftest import own_containers

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SMALL = [data.split("moons", 0, PUBLIC), data.split("line", 0, PUBLIC)]


def snapping(jitter: float) -> str:
    """The red-team catalogue's copying denoiser (``hypoforge sandbox check --all`` runs it too),
    its samples jittered by ``jitter``."""
    return (
        edit("BATCH = 256\n", f"BATCH = 256\nMEMORY = 250\nJITTER = {jitter}\n")
        + edit(DIFFUSION_MODEL, DIFFUSION_SNAP)
        + edit("    return F.mse_loss(predicted, noise)\n", DIFFUSION_PULL)
    )


@pytest.fixture(scope="module")
def ev(docker_sandbox, settings):
    cls: Any = registry.get("diffusion2d").evaluator_class()  # the bound harness class
    return cls(docker_sandbox, settings.home, settings.sandbox.limits, splits=SMALL)


@pytest.mark.parametrize("jitter", [0.0, 0.002], ids=["copies", "jittered-copies"])
def test_samples_that_copy_the_training_points_are_flagged_and_not_kept(ev, docker_sandbox, jitter):
    edits = snapping(jitter)
    assert ev.static_problem(edits) is None  # the rules allow it: only the copying test sees it
    report = ev.evaluate(edits)
    assert report.status is Outcome.OK, report.reason
    copies = [f for f in report.flags if f.startswith("copies training points: ")]
    assert [f.split(": ")[1] for f in copies] == ["moons-s0", "line-s0"], report.flags
    assert not any(f.startswith("bigger model") for f in report.flags)
    assert keeps(report, 1) == (False, None)
    assert own_containers(docker_sandbox) == []


def test_the_template_itself_is_not_flagged(ev, docker_sandbox):
    report = ev.evaluate(edit("LR = 3e-3\n", "LR = 3.1e-3\n"))
    assert report.status is Outcome.OK, report.reason
    assert report.flags == ()
    assert own_containers(docker_sandbox) == []


def test_a_bigger_model_is_flagged(ev, docker_sandbox):
    report = ev.evaluate(edit("HIDDEN = 64\n", "HIDDEN = 96\n"))
    assert report.status is Outcome.OK, report.reason
    bigger = (3 * 96 + 96) + 2 * (96 * 96 + 96) + (96 * 2 + 2) + 5
    ratio = bigger / ((3 * 64 + 64) + 2 * (64 * 64 + 64) + (64 * 2 + 2) + 5)
    assert report.flags == (
        f"bigger model: {ratio:.2f}x the template's parameters (budget 1.10x); "
        "a win here is not a discovery",
    )
    assert own_containers(docker_sandbox) == []


@pytest.mark.parametrize(
    ("edits", "reason"),
    [
        (
            edit("DIFFUSION_STEPS = 100\n", "DIFFUSION_STEPS = 4000\n"),
            "DIFFUSION_STEPS = 4000 is over the budget of 1000; use at most that",
        ),
        (edit("BATCH = 256\n", "BATCH = 256\nSAMPLES = 5\n"), "SAMPLES"),
    ],
    ids=["more-steps-than-the-budget", "rebinds-a-fixed-name"],
)
def test_refused_before_any_container(ev, docker_sandbox, edits, reason):
    report = ev.evaluate(edits)
    assert report.status is Outcome.INVALID and report.win_rate is None
    assert reason in report.reason
    assert report.reason == ev.static_problem(edits)
    assert own_containers(docker_sandbox) == []


def test_the_job_data_holds_no_held_out_point(ev):
    with np.load(ev.data_file()) as npz:
        arrays = {k: npz[k] for k in npz.files}
    assert sorted(arrays) == ["line-s0.x_train", "moons-s0.x_train"]
    for s in SMALL:
        inside = arrays[f"{s.name}.x_train"]
        assert np.array_equal(inside, s.inputs["x_train"])
        held_out = s.targets["samples"]
        gaps = ((held_out[:, None, :] - inside[None, :, :]) ** 2).sum(-1)
        assert gaps.min() > 0  # not one held-out point is in the job, in any array
