"""The host side of the activation task on a fake sandbox: outcome mapping and scoring."""

import json
import os

import numpy as np
import pytest

from core.records import Outcome
from evaluators.activation.harness import ActivationEvaluator
from tests.fakes import SMALL_SPLITS, FakeSandbox, half_right

RELU = "import torch\n\ndef activation(x):\n    return torch.relu(x)\n"


def evaluator(tmp_path, sandbox):
    return ActivationEvaluator(sandbox, tmp_path, splits=SMALL_SPLITS)


def test_perfect_candidate_wins_every_comparison(tmp_path):
    sb = FakeSandbox()
    report = evaluator(tmp_path, sb).evaluate(RELU)
    assert report.status is Outcome.OK
    assert report.win_rate == 1.0
    assert report.comparisons == 3 * 4  # splits x baselines
    assert set(report.per_dataset) == {"iris", "wine", "moons"}
    assert report.per_dataset["iris"].candidate == 1.0
    assert report.image == "fake:1@sha256:0123456789abcdef"


def test_candidate_equal_to_baselines_ties(tmp_path):
    report = evaluator(tmp_path, FakeSandbox(candidate_logits=half_right)).evaluate(RELU)
    assert report.win_rate == 0.5


def test_baselines_are_computed_once_and_cached(tmp_path):
    sb = FakeSandbox()
    ev = evaluator(tmp_path, sb)
    ev.evaluate(RELU)
    ev.evaluate(RELU.replace("relu", "tanh"))
    keys = [j.key for j in sb.jobs]
    assert len(keys) == 3
    assert sum(k.startswith("b") for k in keys) == 1
    assert len(list((tmp_path / "baselines").glob("*.json"))) == 1


def test_test_labels_never_reach_the_container(tmp_path):
    sb = FakeSandbox()
    ev = evaluator(tmp_path, sb)
    ev.evaluate(RELU)
    with np.load(ev.data_file()) as data:
        keys = set(data.files)
    assert keys and not any("y_test" in k for k in keys)
    assert {"iris-s0.x_test", "iris-s0.y_train", "iris-s0.x_train"} <= keys


def test_static_rejection_runs_nothing(tmp_path):
    sb = FakeSandbox()
    report = evaluator(tmp_path, sb).evaluate("import os\n\ndef activation(x):\n    return x\n")
    assert report.status is Outcome.INVALID
    assert report.reason == (
        "line 1: import of os is not allowed "
        "(allowed: math, torch, torch.nn, torch.nn.functional, torch.special)"
    )
    assert sb.jobs == []


def test_property_check_is_redone_on_the_host(tmp_path):
    sb = FakeSandbox(probe_fn=lambda p: np.zeros_like(p))
    report = evaluator(tmp_path, sb).evaluate(RELU)
    assert report.status is Outcome.INVALID
    assert report.reason == "constant output: the function carries no information about x"


def test_nonfinite_predictions(tmp_path):
    def nan_logits(split):
        out = half_right(split)
        out[0, 0] = np.nan
        return out

    report = evaluator(tmp_path, FakeSandbox(candidate_logits=nan_logits)).evaluate(RELU)
    assert report.status is Outcome.NONFINITE
    assert report.win_rate is None


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda out: np.save(out / "candidate.iris-s0.npy", np.zeros((3, 3))), "expected float"),
        (lambda out: (out / "candidate.wine-s0.npy").unlink(), "candidate.wine-s0.npy: missing"),
        (lambda out: (out / "candidate.wine-s0.npy").write_bytes(b"junk"), "not a valid .npy"),
        (lambda out: (out / "candidate.iris-s0.npy").write_bytes(b"\0" * (5 << 20)), "cap"),
        (
            lambda out: np.save(out / "candidate.iris-s0.npy", np.array([{}]), allow_pickle=True),
            "not a valid .npy",
        ),
    ],
    ids=["wrong shape", "missing", "garbage", "oversized", "pickled"],
)
def test_malformed_predictions_are_invalid_result(tmp_path, damage, reason):
    report = evaluator(tmp_path, FakeSandbox(after=damage)).evaluate(RELU)
    assert report.status is Outcome.INVALID_RESULT
    assert reason in report.reason


def test_symlinked_prediction_is_not_followed(tmp_path):
    secret = tmp_path / "host-secret.npy"
    np.save(secret, np.ones((45, 3), dtype=np.float32))

    def link(out):
        os.unlink(out / "candidate.iris-s0.npy")
        os.symlink(secret, out / "candidate.iris-s0.npy")

    report = evaluator(tmp_path, FakeSandbox(after=link)).evaluate(RELU)
    assert report.status is Outcome.INVALID_RESULT
    assert "cannot open" in report.reason


def test_fake_metrics_written_by_the_hypothesis_are_ignored(tmp_path):
    def brag(out):
        (out / "metrics.json").write_text(json.dumps({"accuracy": 1.0, "win_rate": 1.0}))
        (out / "status.json").write_text(json.dumps({"candidate": {"stage": "done"}}))

    sb = FakeSandbox(candidate_logits=half_right, after=brag)
    report = evaluator(tmp_path, sb).evaluate(RELU)
    assert report.status is Outcome.OK
    assert report.win_rate == 0.5


@pytest.mark.parametrize(
    "outcome", [Outcome.TIMEOUT, Outcome.OOM, Outcome.DISK_QUOTA, Outcome.INFRA_ERROR]
)
def test_sandbox_outcomes_pass_through(tmp_path, outcome):
    report = evaluator(tmp_path, FakeSandbox(outcome=outcome)).evaluate(RELU)
    assert report.status is outcome
    assert report.reason == "fake"
    assert report.win_rate is None


def test_hypothesis_error_uses_the_runner_message(tmp_path):
    def crashed(out):
        status = {"candidate": {"stage": "train", "error": "ZeroDivisionError: boom"}}
        (out / "status.json").write_text(json.dumps(status))

    report = evaluator(tmp_path, FakeSandbox(outcome=Outcome.HYP_ERROR, after=crashed)).evaluate(
        RELU
    )
    assert report.status is Outcome.HYP_ERROR
    assert report.reason == "ZeroDivisionError: boom"


def test_a_candidate_that_never_loaded_says_why(tmp_path):
    def unloadable(out):
        for f in out.glob("candidate.*"):
            f.unlink()
        status = {"candidate": {"stage": "load", "error": "NameError: name 'tf' is not defined"}}
        (out / "status.json").write_text(json.dumps(status))

    sb = FakeSandbox(outcome=Outcome.HYP_ERROR, after=unloadable)
    report = evaluator(tmp_path, sb).evaluate(RELU)
    assert report.status is Outcome.INVALID
    assert report.reason.startswith("property check produced no usable arrays")
    assert report.reason.endswith(
        "the runner could not load it: NameError: name 'tf' is not defined"
    )


def test_every_attempt_gets_a_fresh_folder_and_name(tmp_path):
    sb = FakeSandbox()
    ev = evaluator(tmp_path, sb)
    ev.evaluate(RELU)
    ev.evaluate(RELU)
    cand = [j for j in sb.jobs if j.key.startswith("a")]
    assert [j.key[-2:] for j in cand] == ["-0", "-1"]
    assert cand[0].out_dir != cand[1].out_dir


def test_a_batch_job_gives_each_hypothesis_the_output_allowance_of_one(tmp_path):
    from evaluators.kit.budgets import get_budget

    ev = evaluator(tmp_path, FakeSandbox())
    one = ev.make_job({"a": RELU}, get_budget("one-pass"), "t")
    ten = ev.make_job({f"h{i}": RELU for i in range(10)}, get_budget("one-pass"), "t", 10)
    assert ten.limits.output_files == 10 * one.limits.output_files
    assert ten.limits.output_mb == one.limits.output_mb  # bytes stay capped per job
    assert ten.limits.wall_seconds == 10 * one.limits.wall_seconds


def _checks(job) -> dict:
    in_dir = next(m.source for m in job.mounts if m.target == "/hf/in")
    return json.loads((in_dir / "job.json").read_text())["checks"]


def test_each_job_draws_its_own_probe_and_training_checks(tmp_path):
    """No check input can be recognised: two jobs of the same hypothesis get different probe
    points, lengths, orders, batch rows and watched training calls; the fixed points (the
    fingerprint's) come first in both."""
    from evaluators.activation import runner
    from evaluators.kit.budgets import get_budget

    ev = evaluator(tmp_path, FakeSandbox())
    a, b = (_checks(ev.make_job({"c": RELU}, get_budget("one-pass"), "t")) for _ in range(2))
    fixed = runner.probe_points()
    for checks in (a, b):
        points = runner.unpacked(checks["probe"]["points"], "<f4")
        assert np.array_equal(points[: len(fixed)], fixed)
        assert len(points) % checks["probe"]["rows"] == 0
        assert sorted(runner.unpacked(checks["probe"]["order"], "<i4")) == list(range(len(points)))
        assert set(checks["watch"]) == {s.name for s in SMALL_SPLITS}
    assert a["probe"]["points"] != b["probe"]["points"]
    assert a["probe"]["order"] != b["probe"]["order"]
    assert a["watch"] != b["watch"]


def test_the_regularizer_and_preprocess_checks_are_drawn_per_job(tmp_path):
    from evaluators.kit.budgets import get_budget
    from evaluators.preprocess.harness import PreprocessEvaluator
    from evaluators.regularizer.harness import RegularizerEvaluator

    spec = get_budget("one-pass")
    reg = RegularizerEvaluator(FakeSandbox(), tmp_path, splits=SMALL_SPLITS)
    pre = PreprocessEvaluator(FakeSandbox(), tmp_path, splits=SMALL_SPLITS)
    r1, r2 = (_checks(reg.make_job({"c": "x"}, spec, "r")) for _ in range(2))
    draws = [_checks(pre.make_job({"c": "x"}, spec, "p")) for _ in range(8)]
    split = SMALL_SPLITS[0]
    assert len(r1[split.name]["rows"]) == 16 and r1[split.name]["steps"]
    assert (r1[split.name]["rows"], r1[split.name]["steps"]) != (
        r2[split.name]["rows"],
        r2[split.name]["steps"],
    )
    stand_ins = {d[split.name]["stand_in"] for d in draws}
    assert len(stand_ins) > 1 and all(0 <= i < len(split.x_train) for i in stand_ins)
