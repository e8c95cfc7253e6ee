"""The probe curve on a hypothesis page: the activation task's report hooks read the run's probe
arrays (untrusted, through the sandbox's total readers) and draw them beside the baselines; a
damaged or missing attempt folder draws nothing; a user's task folder is never imported."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators.activation.report import WINDOW, ActivationReport
from hypoforge.web.data import CampaignReader
from store.ledger import Ledger
from tests.fakes import SMALL_SPLITS, ProbingSandbox
from tests.unit.web.serving import client_for, make_campaign, report

pytestmark = pytest.mark.slow  # each probes in this process (a few seconds)

GELU = "import torch\nimport torch.nn.functional as F\n\ndef activation(x):\n    return F.gelu(x)\n"


def probed(tmp_path):
    """The attempt folder of a probe of GELU, named as an evaluation names its candidate."""
    from evaluators.activation.harness import ActivationEvaluator

    ev = ActivationEvaluator(ProbingSandbox(), tmp_path / "home", splits=SMALL_SPLITS)
    ev.probe_many({"candidate": GELU})
    return ev.sandbox.jobs[-1].out_dir


def probed_view(folder, cid, tmp_path):
    """r0-0's page view once its result is replaced by one whose run left GELU's probe arrays
    (an attempt folder under ``tmp_path``)."""
    out = probed(tmp_path)
    ledger = Ledger(folder / "ledger.sqlite")
    ledger.db.execute("DELETE FROM results")
    ledger.put_result("key-r0-0", cid, "r0-0", report("r0-0", 0.75, artifacts=str(out)))
    ledger.close()
    return CampaignReader(folder).hypothesis("r0-0")


def test_the_curve_of_gelu_lies_on_the_gelu_baseline(tmp_path):
    out = probed(tmp_path)
    curves = ActivationReport().probe_curves(report("r0-0", 0.6, artifacts=str(out)))
    assert curves is not None
    assert set(curves) == {"hypothesis", "relu", "gelu", "silu", "tanh"}
    xs = [x for x, _ in curves["hypothesis"]]
    assert xs == sorted(xs) and xs[0] >= -WINDOW and xs[-1] <= WINDOW and len(xs) > 50
    mine = np.array([y for _, y in curves["hypothesis"]])
    gelu = np.array([y for _, y in curves["gelu"]])
    assert np.max(np.abs(mine - gelu)) < 1e-3
    assert [x for x, _ in curves["relu"]] == xs


def test_no_folder_or_damaged_arrays_draw_nothing(tmp_path):
    hooks = ActivationReport()
    assert hooks.probe_curves(report("r0-0", 0.6)) is None
    assert hooks.probe_curves(report("r0-0", 0.6, artifacts=str(tmp_path / "gone"))) is None
    out = probed(tmp_path)
    (out / "candidate.probe_y.npy").write_bytes(b"\x93NUMPY garbage")
    assert hooks.probe_curves(report("r0-0", 0.6, artifacts=str(out))) is None
    out = probed(tmp_path / "again")
    np.save(out / "candidate.probe_y.npy", np.full(4, np.nan, dtype=np.float32))
    assert hooks.probe_curves(report("r0-0", 0.6, artifacts=str(out))) is None


def test_the_hypothesis_page_draws_the_probe_beside_the_baselines(tmp_path):
    folder, cid = make_campaign(tmp_path)
    view = probed_view(folder, cid, tmp_path)
    assert view is not None and view.curves is not None and "gelu" in view.curves
    page = client_for([folder]).get(f"/c/{cid}/h/r0-0")
    assert page.status_code == 200
    assert "Probe curve against the baselines" in page.text
    assert "<svg" in page.text.split("Probe curve against the baselines")[1].split("</section>")[0]


def test_a_task_folder_of_the_users_is_not_imported_for_curves(tmp_path):
    folder, cid = make_campaign(tmp_path)
    meta = folder / "campaign.json"
    text = meta.read_text().replace('"task_folder": null', f'"task_folder": "{tmp_path}"')
    meta.write_text(text)
    view = probed_view(folder, cid, tmp_path)
    assert view is not None and view.curves is None
    assert view.results and view.results[0].win_rate == 0.75  # the page itself reads on
