"""What the paper may say, gathered by code from the campaign's records.

``gather`` reads the campaign folder (campaign.json, the ledger, the findings) and returns a
``Facts``: the rows and their best reports, the campaign's counts and budgets, how it ran (who
proposed and reviewed, reference points, lineage, rungs, the template: ``provenance``), the
machine its start recorded, the images, harness versions, data secrets and splits of its
results, the bibliography (``hypoforge.paper.bib``), and the image's Python and torch versions
as read by a trusted job (``image_versions``). Every number the paper prints is one of these;
the prose's numbers are checked against ``Facts.figures`` after the tables are rendered.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.grounding import Figures
from core.records import EvalReport, HypothesisRow
from hypoforge import campaign
from hypoforge.paper import provenance
from hypoforge.paper.bib import BibEntry, from_catalogue, from_searches
from hypoforge.report import _best_report, task_plugin
from store.ledger import Ledger
from store.lifecycle import discovery

LEADERS = 4


@dataclass
class Facts:
    folder: Path
    campaign: str
    task: str
    summary: str  # the task's one-line summary (task.toml)
    budgets: dict[str, Any]
    rows: list[HypothesisRow]
    reports: dict[str, EvalReport]  # hypothesis id -> its selection report on its highest rung
    confirmations: dict[str, EvalReport]  # hypothesis id -> its held-out run
    tokens: int
    launches: int
    stopped: str
    machine: dict[str, Any]
    images: list[str]
    harness_versions: list[str]
    data_secrets: list[str]
    split_names: list[str]
    image_versions: dict[str, str]
    sources: list[BibEntry]
    keys_of: dict[str, str]  # "catalogue: <component>" or "search: <paper id>" -> its key
    how: provenance.Provenance  # who proposed and checked, lineage, rungs, template
    figures: Figures = field(default_factory=Figures)  # every number code has printed
    # The bibliography's numbers (years, arXiv ids, DOIs, venues): printed by BibTeX in the
    # references, never allowed in prose, where a model would use them to invent a result.
    cited: Figures = field(default_factory=Figures)

    @property
    def scored(self) -> list[HypothesisRow]:
        return [r for r in self.rows if r.id in self.reports]

    @property
    def leaders(self) -> list[HypothesisRow]:
        ranked = sorted(self.scored, key=lambda r: self.reports[r.id].win_rate or 0, reverse=True)
        return ranked[:LEADERS]

    @property
    def known(self) -> list[HypothesisRow]:
        return [r for r in self.rows if r.known]

    @property
    def discoveries(self) -> list[HypothesisRow]:
        return [r for r in self.rows if discovery(r)]

    @property
    def datasets(self) -> list[str]:
        return sorted({d for rep in self.reports.values() for d in rep.per_dataset})

    @property
    def baselines(self) -> list[str]:
        return sorted(
            {
                b
                for rep in self.reports.values()
                for s in rep.per_dataset.values()
                for b in s.baselines
            }
        )

    def cite(self, name: str) -> str | None:
        """The bibliography key of a catalogue component or a paper id, if the paper has it."""
        key = self.keys_of.get(f"catalogue: {name}")
        return key if key in {s.key for s in self.sources} else None

    def setup(self) -> dict[str, str]:
        """The setup facts, as printed (also written to facts.json for the reviewer)."""
        m = self.machine
        gpus = m.get("gpus") or []
        facts = {
            "campaign": self.campaign,
            "task": self.task,
            **self.how.setup(),
            "sandbox image": ", ".join(short_image(i) for i in self.images) or "not recorded",
            "harness version": ", ".join(self.harness_versions) or "not recorded",
            "Python in the image": self.image_versions.get("python", "not recorded"),
            "torch in the image": self.image_versions.get("torch", "not recorded"),
            "CPU": f"{m.get('cpu', 'not recorded')}"
            + (f", {m['cores']} cores" if m.get("cores") else ""),
            "memory": f"{m['memory_gib']} GiB" if m.get("memory_gib") else "not recorded",
            "GPU": ", ".join(str(g) for g in gpus) if gpus else "none",
            "host Python": str(m.get("python", "not recorded")),
            "data secret": ", ".join(self.data_secrets) or "not recorded",
            "splits": ", ".join(self.split_names) or "none",
            "proposals": f"{len(self.rows)} of {self.budgets.get('proposals')}",
            "ladder": " / ".join(str(b) for b in self.budgets.get("ladder", ())),
            "sandbox runs": str(self.launches),
            "LLM tokens": f"{self.tokens} of {self.budgets.get('tokens')}",
            "stopped": self.stopped or "not yet",
        }
        return facts


def short_image(ref: str) -> str:
    """``tag@sha256:<first 12 of the id>``, as Docker shows ids (the full one is in facts.json
    and every bundle)."""
    tag, _, digest = ref.partition("@")
    kind, _, hexid = digest.partition(":")
    return f"{tag}@{kind}:{hexid[:12]}" if hexid else ref


def _machine(ledger: Ledger, campaign_id: str) -> dict[str, Any]:
    for _, _, detail in ledger.events(campaign_id, "start"):
        try:
            data = json.loads(detail)
        except (ValueError, RecursionError):  # a hostile event: skipped
            continue
        found = data.get("machine") if isinstance(data, dict) else None
        if isinstance(found, dict):
            return found
    return {}


def _cited_hits(ledger: Ledger, campaign_id: str) -> list[dict[str, Any]]:
    """The papers the literature searches cited (their decision events), in order."""
    hits: list[dict[str, Any]] = []
    for _, kind, detail in ledger.events(campaign_id):
        if kind != "decision":
            continue
        try:
            data = json.loads(detail)
        except (ValueError, RecursionError):  # a hostile event: skipped
            continue
        listed = data.get("hits") if isinstance(data, dict) else None
        hits += [h for h in (listed if isinstance(listed, list) else []) if isinstance(h, dict)]
    return hits


def _known_name(known: str) -> str:
    """``"same as Mish"`` -> ``"Mish"``."""
    for head in ("same as ", "close to "):
        if known.startswith(head):
            return known[len(head) :]
    return known


def gather(folder: Path, home: Path | None = None) -> Facts:
    """The facts of the campaign in ``folder`` (``ConfigError`` when there is none); the
    image's versions are the caller's to fill in (``image_versions``: a sandbox job)."""
    from evaluators import catalogue

    info = campaign.load(folder)
    plugin = task_plugin(info.task)
    ledger = Ledger(folder / "ledger.sqlite")
    try:
        rows = ledger.hypotheses(info.id)
        reports = _best_report(ledger, info.id)
        results = ledger.results(info.id)
        held = {h: rep for _, h, rep in results if rep.split_set == "confirmation"}
        components = catalogue.load(plugin.folder) if plugin is not None else []
        how = provenance.gather(ledger, info, rows, results, plugin, bool(components))
        tokens, launches = ledger.usage(info.id)
        stops = ledger.events(info.id, "stop")
        machine = _machine(ledger, info.id)
        hits = _cited_hits(ledger, info.id)
    finally:
        ledger.close()
    wanted = {_known_name(r.known) for r in rows if r.known}
    every = [*reports.values(), *held.values()]
    baselines = {b.lower() for rep in every for s in rep.per_dataset.values() for b in s.baselines}
    used = [c for c in components if c.name in wanted or c.name.lower() in baselines]
    taken: set[str] = set()
    sources = from_catalogue(used, taken)
    sources += from_searches(hits, home / "literature" if home is not None else None, taken)
    keys_of = {s.origin: s.key for s in sources}  # by origin: a search id named "Mish" is no Mish
    summary = ""
    if plugin is not None and (plugin.folder / "task.toml").exists():
        import tomllib

        summary = str(tomllib.loads((plugin.folder / "task.toml").read_text()).get("summary", ""))
    facts = Facts(
        folder=folder,
        campaign=info.id,
        task=info.task,
        summary=summary,
        budgets=info.budgets.model_dump(mode="json"),
        rows=rows,
        reports=reports,
        confirmations=held,
        tokens=tokens,
        launches=launches,
        stopped=stops[-1][2] if stops else "",
        machine=machine,
        images=sorted({rep.image for rep in every if rep.image}),
        harness_versions=sorted({rep.harness_version for rep in every}),
        data_secrets=sorted({rep.data_secret for rep in every if rep.data_secret}),
        split_names=sorted({c for rep in reports.values() for c in rep.cells}),
        image_versions={},
        sources=sources,
        keys_of=keys_of,
        how=how,
    )
    facts.figures.update(how.figures())
    for s in sources:
        facts.cited.update([s.year, s.arxiv, s.doi, s.venue, s.title])
    return facts


def number(value: float | None, places: int = 3) -> str:
    """A figure as the paper prints it ("-" when there is none)."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{places}f}"


def image_versions(sandbox: Any, image_ref: str | None, work: Path) -> dict[str, str]:
    """The Python, torch and numpy versions inside the sandbox image, read by a trusted job
    (no hypothesis code) in that image; empty when the image that ran the campaign is not the
    one this machine has (its id differs) or the job fails."""
    from sandbox.base import Job

    if not image_ref or "@" not in image_ref:
        return {}
    try:
        if sandbox.image_ref() != image_ref:
            return {}
    except Exception:
        return {}
    script = (
        "import json, platform, torch, numpy; print('HFV ' + json.dumps({'python': "
        "platform.python_version(), 'torch': torch.__version__, 'numpy': numpy.__version__}))"
    )
    out = work / "versions"
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():
        stale.unlink()
    result = sandbox.run(Job(key="paper-versions", command=["python3", "-c", script], out_dir=out))
    for line in result.log_tail.splitlines():
        if line.startswith("HFV "):
            try:
                data = json.loads(line[4:])
            except ValueError:
                return {}
            if isinstance(data, dict):
                return {k: str(v)[:40] for k, v in data.items() if isinstance(k, str)}
    return {}
