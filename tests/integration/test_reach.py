"""Fingerprints compared where training goes, in the real sandbox: GELU with a zero-gradient
step at x < -4.5 (the red team's, where no pre-activation of iris-s0 or moons-s0 falls) trains
exactly like GELU; its screening records where the pre-activations went, and the campaign's
known mark, decided again from that result (``graph.literature.remark``, with a real ledger),
is "same as GELU" with the GELU paper. An honest new function is marked nothing. No container
and no attempt folder is left."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import pytest

from core.records import HypothesisRow, Outcome, Stage
from evaluators import catalogue
from evaluators.activation.harness import ActivationEvaluator
from evaluators.fingerprint import CANONICAL, read_mask, same_behaviour
from evaluators.kit import datasets
from evaluators.registry import get
from graph import literature
from store.ledger import Ledger
from store.lifecycle import discovery
from tests.integration.conftest import own_containers

HEAD = "import torch\nimport torch.nn.functional as F\n\ndef activation(x):\n    return "
GELU = HEAD + "F.gelu(x)\n"
MARKED = HEAD + "F.gelu(x) - 0.01 * (1.0 - torch.sign(x + 4.5))\n"
NEW = HEAD + "0.4 * torch.cos(x) + x * torch.sigmoid(3.0 * x)\n"


@pytest.fixture(scope="module")
def small(docker_sandbox, settings, tmp_path_factory):
    limits = settings.sandbox.limits.model_copy(update={"memory_mb": 768})
    splits = [datasets.split("iris", 0), datasets.split("moons", 0)]
    home = tmp_path_factory.mktemp("reach-home")
    return ActivationEvaluator(docker_sandbox, home, limits, splits=splits, keep="none")


def _deps(small, tmp_path, code: dict[str, str]) -> Any:
    """What ``literature.remark`` reads of a campaign: a real ledger, the real evaluator."""
    (tmp_path / "code").mkdir()
    for hid, source in code.items():
        (tmp_path / "code" / f"{hid}.py").write_text(source)
    return SimpleNamespace(
        campaign="c",
        ledger=Ledger(tmp_path / "ledger.sqlite"),
        evaluator=small,
        prober=small,
        settings=SimpleNamespace(ladder=["one-pass"]),
        code_path=lambda hid: tmp_path / "code" / f"{hid}.py",
        home=small.home,
        folder=tmp_path,
        task="activation",
        task_dir=get("activation").folder,
        workers=1,
        notify=lambda who, what: None,
    )


def test_a_gelu_marked_where_training_never_goes_is_called_gelu(small, docker_sandbox, tmp_path):
    code = {"gelu": GELU, "marked": MARKED, "new": NEW}
    reports = {hid: small.evaluate(src) for hid, src in code.items()}
    assert all(r.status is Outcome.OK for r in reports.values())
    plain, marked = reports["gelu"], reports["marked"]
    assert {d: s.candidate for d, s in plain.per_dataset.items()} == {
        d: s.candidate for d, s in marked.per_dataset.items()
    }
    assert marked.reach is not None and marked.reach == plain.reach
    mask = read_mask(marked.reach)
    assert mask is not None and not mask[CANONICAL < -4.5].any()

    deps = _deps(small, tmp_path, code)
    probes = small.probe_many(code)
    rows = {}
    for hid, source in code.items():
        sha = hashlib.sha256(source.encode()).hexdigest()
        deps.ledger.put_probe("c", hid, sha, None, probes[hid].fingerprint)
        deps.ledger.put_result(small.experiment_key(source, "one-pass"), "c", hid, reports[hid])
        row = HypothesisRow(
            campaign="c", id=hid, round=1, mode="incremental", idea=hid, code_sha=sha
        )
        known = literature.known_components(deps)
        row = row.model_copy(
            update={
                "stage": Stage.SCREENED,
                **literature.mark(deps, row, probes[hid].fingerprint, known),
            }
        )
        deps.ledger.save(row)
        rows[hid] = literature.remark(deps, row)
    # The probe alone (the whole window) sees the step; where training went, it is GELU.
    whole = catalogue.match(probes["marked"].fingerprint, known)
    assert whole is None or (whole[0].name, whole[1]) != ("GELU", "same")
    assert rows["gelu"].known == "same as GELU" and rows["marked"].known == "same as GELU"
    assert "arXiv:1606.08415" in (rows["marked"].citation or "")
    saved = deps.ledger.hypothesis("c", "marked")
    assert saved is not None and saved.known == "same as GELU" and not discovery(saved)
    assert rows["new"].known is None
    # A duplicate of plain GELU where GELU's training went, not on the whole window.
    fa, fb = probes["gelu"].fingerprint, probes["marked"].fingerprint
    assert fa is not None and not same_behaviour(fa, fb)
    assert same_behaviour(fa, fb, reach=plain.reach)
    assert not same_behaviour(probes["new"].fingerprint, fb, reach=plain.reach)
    assert own_containers(docker_sandbox) == []
    assert not list((small.home / "attempts").rglob("job.json"))  # keep = "none"
