"""Calibration in the real sandbox: on a small part of the activation task's hard set, at the
short budget, the harness puts the known-worse activations below ReLU."""

from __future__ import annotations

from evaluators import calibration
from evaluators.activation.harness import ActivationEvaluator
from evaluators.calibration import SEPARATED
from evaluators.kit import datasets

# Two of the hard splits: the deep, narrow network on the spirals and on the checkerboard.
# Measured (public secret, short budget; training is deterministic): test accuracy sigmoid
# 0.33 / 0.53, near-identity 0.27 / 0.53, ReLU 0.68 / 0.64. Not deep manyclass: there the
# near-identity unit, all but a linear classifier, beats a deep ReLU net at 5 epochs (0.52 to 0.30).
SMALL_HARD = [datasets.split("spirals", 0, deep=True), datasets.split("checkerboard", 1, deep=True)]


def test_the_activation_harness_separates_sigmoid_and_near_identity_from_relu(
    docker_sandbox, settings
):
    ev = ActivationEvaluator(
        docker_sandbox,
        settings.home,
        settings.sandbox.limits,
        splits=SMALL_HARD,
        wall_seconds=120,
        split_set="hard",
    )
    panel = {c.name: c for c in calibration.panel(ev.folder)}
    controls = [panel["sigmoid"], panel["near_identity"], panel["relu"]]
    result = calibration.calibrate(ev, controls, "short")
    assert [c["status"] for c in result["controls"]] == ["ok"] * 3, result["controls"]
    verdicts = {(p["worse"], p["better"]): p["verdict"] for p in result["pairs"]}
    assert verdicts == {("sigmoid", "relu"): SEPARATED, ("near_identity", "relu"): SEPARATED}
    assert result["separates"]
    assert result["split_set"] == "hard" and result["splits"] == [s.name for s in SMALL_HARD]
    path = calibration.save(settings.home, result)
    assert calibration.load(settings.home, "activation", ev.version, "hard", "short") == result
    assert path.exists()
