"""How the campaign ran, read from its records: who proposed its hypotheses, whether a critic
reviewed them and with which models, which rows were reference points, their lineage, the rungs
its results were measured on and the task's template. The paper's sentences about the method
(``sentences``), the writer's brief and the reviewer's checks all come from a ``Provenance``, so
a paper cannot say that a language model proposed what the search generator did.

Where each fact is recorded:

- generator: ``campaign.json`` (``budgets.generator``: "llm" or "search"); the model per role:
  the ``start`` and ``resume`` events (``campaign.run``: "models"; "generator" there holds the
  endpoint too, which the paper does not print: a URL names a host);
- critic reviews: the ``verdict`` events of ``store.lifecycle.judged`` (who "critic"), less those
  written without a review (an unusable reply, the token budget spent: ``graph.nodes.critique``);
- reference points: the ``reference`` events (``hypoforge.reference.seed``);
- lineage: ``HypothesisRow.parent`` where the records have it;
- rungs: the ledger's results (selection split set) per budget name;
- template: the task's ``task.toml`` (``kind = "template"`` and its ``[template]`` table).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.records import EvalReport, HypothesisRow

# The reasons ``graph.nodes.critique`` writes when a proposal runs without a review.
NO_REVIEW = ("critic reply unusable", "token budget spent: no review")
ROLE_ORDER = ("proposer", "critic", "coder", "analyst")


@dataclass(frozen=True)
class Template:
    """A template task's script as ``task.toml`` declares it."""

    script: str
    blocks: tuple[str, ...]  # the script's editable blocks, in order
    metric: str  # the metric's name (evaluators.template.metrics)
    label: str  # the metric in words
    rungs: dict[str, dict[str, Any]] = field(default_factory=dict)  # rung -> its table


@dataclass(frozen=True)
class Provenance:
    generator: str  # "llm" or "search" (campaign.json)
    models: dict[str, tuple[str, ...]]  # role -> its model names, as recorded at each start
    search_generator: str | None  # the task's built-in generator (task.toml), if it has one
    references: dict[str, str]  # row id -> the catalogue component it is
    proposed: tuple[str, ...]  # the rows that are proposals (not reference points)
    reviewed: tuple[str, ...]  # proposals the critic reviewed (a verdict from a reply)
    rejected: tuple[str, ...]  # ... and rejected
    unreviewed: tuple[str, ...]  # proposals given a verdict without a review
    repaired: tuple[str, ...]  # proposals whose code the coder rewrote
    lineage_recorded: bool  # the records have a parent field
    parents: dict[str, str]  # row id -> its parent's id
    picked: dict[str, int]  # how parents were picked ("best", "diverse"; the proposer's events)
    ladder: tuple[str, ...]  # the campaign's ladder (campaign.json)
    rungs: dict[str, int]  # budget -> hypotheses with a selection result there, ladder order
    probed: int  # rows whose current code a probe ran on (the ledger's probes)
    catalogue: bool  # the task has a catalogue of published components
    ranked: int  # rows the reward model ranked (a predicted win rate)
    reward_model: str
    confirm: bool  # held-out confirmation on (campaign.json)
    confirmed_runs: int  # hypotheses run on the confirmation splits
    metric: str  # what a cell's score is, in words
    template: Template | None = None

    @property
    def llm_proposed(self) -> bool:
        """A language model proposed at least one hypothesis."""
        return self.generator == "llm" and bool(self.proposed)

    @property
    def critic_reviewed(self) -> bool:
        return bool(self.reviewed)

    @property
    def lineage(self) -> bool:
        return bool(self.parents)

    def depth(self, hid: str) -> int:
        """Generations above ``hid`` (0: no parent); a loop in hostile records ends the walk."""
        seen = {hid}
        while (hid := self.parents.get(hid, "")) and hid not in seen:
            seen.add(hid)
        return len(seen) - 1

    @property
    def deepest(self) -> int:
        return max((self.depth(h) for h in self.parents), default=0)

    def model(self, role: str) -> str | None:
        """The model ``role`` ran with, in words ("a or b" when a resume changed it); None when
        no name was recorded."""
        names = [n for n in self.models.get(role, ()) if n != "unnamed"]
        return " or ".join(names) if names else None

    def figures(self) -> list[object]:
        """Every count the sentences print (for ``Facts.figures``)."""
        return [
            len(self.proposed),
            len(self.references),
            len(self.reviewed),
            len(self.rejected),
            len(self.unreviewed),
            len(self.repaired),
            len(self.parents),
            self.deepest,
            self.probed,
            self.ranked,
            self.confirmed_runs,
            *self.rungs.values(),
            *self.picked.values(),
            *(v for t in self._rung_tables() for v in t.values()),
        ]

    def _rung_tables(self) -> list[dict[str, Any]]:
        return list(self.template.rungs.values()) if self.template is not None else []

    def setup(self) -> dict[str, str]:
        """The setup table's lines about how the campaign ran (also in facts.json)."""
        out = {"proposed by": proposer_words(self), "reviewed by": critic_words(self)}
        if self.references:
            out["reference points"] = ", ".join(
                f"{h} ({name})" for h, name in self.references.items()
            )
        if self.parents:  # said only where there is one: the reviewer reads the word as a claim
            out["lineage"] = f"{len(self.parents)} with a parent, {self.deepest} generations deep"
        out["behaviour probes"] = f"{self.probed} hypotheses" if self.probed else "none ran"
        out["rungs run"] = (
            ", ".join(f"{b} ({n})" for b, n in self.rungs.items()) or "none (nothing was scored)"
        )
        out["metric"] = self.metric
        if self.template is not None:
            t = self.template
            out["template"] = f"{t.script}, editable blocks " + (", ".join(t.blocks) or "none")
            out["rungs in the script's units"] = rung_units(t, list(t.rungs)) or "none"
        return out


def _events(ledger: Any, campaign: str, kind: str) -> Iterable[tuple[str, dict[str, Any]]]:
    """(who, detail) of each ``kind`` event whose detail is a JSON object; others skipped."""
    for who, _, detail in ledger.events(campaign, kind):
        try:
            data = json.loads(detail)
        except (ValueError, RecursionError, TypeError):
            continue
        if isinstance(data, dict):
            yield who, data


def gather(
    ledger: Any,
    info: Any,
    rows: list[HypothesisRow],
    results: list[tuple[str, str, EvalReport]],
    plugin: Any,
    catalogue: bool = False,
) -> Provenance:
    """The provenance of campaign ``info`` (``campaign.CampaignInfo``) from its open ``ledger``,
    its ``rows`` and ``results`` (``Ledger.results``) and its task ``plugin`` (None: unknown);
    ``catalogue``: the task has published components to compare with."""
    budgets = info.budgets
    models: dict[str, list[str]] = {}
    for kind in ("start", "resume"):
        for _, data in _events(ledger, info.id, kind):
            found = data.get("models")
            for role, name in (found if isinstance(found, dict) else {}).items():
                if isinstance(role, str) and isinstance(name, str):
                    names = models.setdefault(role[:20], [])
                    if name[:80] not in names:
                        names.append(name[:80])
    ids = {r.id for r in rows}
    references: dict[str, str] = {}
    for _, data in _events(ledger, info.id, "reference"):
        hid, name = data.get("id"), data.get("component")
        if isinstance(hid, str) and hid in ids:
            references[hid] = str(name)[:60] if name else "a catalogue component"
    proposed = tuple(r.id for r in rows if r.id not in references)
    reviewed: dict[str, str] = {}
    unreviewed: set[str] = set()
    for who, data in _events(ledger, info.id, "verdict"):
        hid = data.get("id")
        if who != "critic" or not isinstance(hid, str) or hid not in proposed:
            continue
        if str(data.get("reasons", "")) in NO_REVIEW:
            unreviewed.add(hid)
        else:
            reviewed[hid] = str(data.get("decision", ""))
    lineage = "parent" in HypothesisRow.model_fields
    parents: dict[str, str] = {}
    for r in rows:
        parent = getattr(r, "parent", None)
        if isinstance(parent, str) and parent:
            parents[r.id] = parent.split("/")[-1]
    picked: dict[str, int] = {}
    for _, data in _events(ledger, info.id, "parent"):
        hid, by = data.get("id"), data.get("by")
        if isinstance(hid, str) and hid in parents and isinstance(by, str):
            picked[by[:20]] = picked.get(by[:20], 0) + 1
    ladder = tuple(budgets.ladder)
    measured: dict[str, set[str]] = {}
    for _, hid, rep in results:
        if rep.split_set in (None, "", "selection", "hard") and rep.budget in ladder:
            measured.setdefault(rep.budget, set()).add(hid)
    confirmed = {h for _, h, rep in results if rep.split_set == "confirmation"}
    spec = getattr(plugin, "spec", None)
    return Provenance(
        generator=budgets.generator,
        models={r: tuple(models[r]) for r in sorted(models, key=_role_rank)},
        search_generator=getattr(spec, "generator", None),
        references=references,
        proposed=proposed,
        reviewed=tuple(h for h in proposed if h in reviewed),
        rejected=tuple(h for h in proposed if reviewed.get(h) == "reject"),
        unreviewed=tuple(h for h in proposed if h in unreviewed and h not in reviewed),
        repaired=tuple(r.id for r in rows if r.repairs > 0 and r.id in proposed),
        lineage_recorded=lineage,
        parents=parents,
        picked=dict(sorted(picked.items())),
        ladder=ladder,
        rungs={b: len(measured[b]) for b in ladder if b in measured},
        probed=sum(_probed(ledger.probe(info.id, r.id, r.code_sha or "")) for r in rows),
        catalogue=catalogue,
        ranked=sum(r.predicted is not None for r in rows),
        reward_model=budgets.reward_model,
        confirm=budgets.confirm,
        confirmed_runs=len(confirmed),
        metric=_metric(plugin),
        template=template_of(plugin),
    )


def _probed(found: Any) -> bool:
    """A probe that ran: a problem or a fingerprint (a task without a probe records neither,
    ``graph.selection.probe_code``)."""
    return isinstance(found, tuple) and any(part is not None for part in found)


def _role_rank(role: str) -> int:
    return ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER)


def _metric(plugin: Any) -> str:
    from evaluators.contract import metric_of

    if plugin is None:
        return "not recorded"
    found = template_of(plugin)
    if found is not None:
        return found.label
    try:
        return metric_of(plugin.evaluator_class())
    except Exception:  # a task whose harness does not import here: its default metric
        return "test accuracy"


def _get(table: Any, key: str) -> Any:
    """``key`` of a pydantic model or a mapping (the [template] table's form is its owner's)."""
    if isinstance(table, Mapping):
        return table.get(key)
    return getattr(table, key, None)


def template_of(plugin: Any) -> Template | None:
    """The task's template (``kind = "template"``), or None for a task of another kind or one
    whose script cannot be read."""
    from evaluators.edits import EditError, blocks

    spec = getattr(plugin, "spec", None)
    if spec is None or _get(spec, "kind") != "template":
        return None
    table = _get(spec, "template")
    script = str(_get(table, "script") or "train.py")
    metric = str(_get(table, "metric") or "")
    try:
        names = tuple(b.name for b in blocks((Path(plugin.folder) / script).read_text()))
    except (OSError, UnicodeDecodeError, EditError):
        names = ()
    label = metric.replace("_", " ")
    try:
        from evaluators.template.metrics import METRICS

        label = str(getattr(METRICS[metric], "label", label) or label)
    except (ImportError, KeyError, AttributeError):
        pass
    rungs: dict[str, dict[str, Any]] = {}
    raw = _get(table, "rungs")
    for name, value in raw.items() if isinstance(raw, Mapping) else []:
        dump = getattr(value, "model_dump", None)
        found = value if isinstance(value, Mapping) else dump() if callable(dump) else {}
        rungs[str(name)] = {str(k): v for k, v in found.items() if isinstance(v, (int, float))}
    return Template(script=script, blocks=names, metric=metric, label=label, rungs=rungs)


def rung_units(t: Template, names: list[str]) -> str:
    """``one-pass: steps 300, wall seconds 90; ...`` for the rungs ``names``."""
    return "; ".join(
        f"{name}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in t.rungs[name].items())
        for name in names
        if name in t.rungs
    )


def _ids(ids: Iterable[str], most: int = 6) -> str:
    listed = list(ids)
    shown = ", ".join(listed[:most])
    return shown + (f" and {len(listed) - most} more" if len(listed) > most else "")


def proposer_words(p: Provenance) -> str:
    """Who proposed the hypotheses, as the setup table prints it."""
    if not p.proposed:
        return "no proposal was made"
    if p.generator == "search":
        return "the task's built-in search generator (no language model)"
    model = p.model("proposer")
    return f"a language model ({model})" if model else "a language model (name not recorded)"


def critic_words(p: Provenance) -> str:
    """Who reviewed the proposals, as the setup table prints it (under "reviewed by")."""
    if p.generator == "search":
        return "nothing: the search generator's proposals run unreviewed"
    if not p.reviewed:
        return "nothing: no review is recorded"
    model = p.model("critic") or "name not recorded"
    return f"a critic model ({model}): {len(p.reviewed)}, rejected {len(p.rejected)}"


def sentences(p: Provenance) -> dict[str, list[str]]:
    """The sentences about how the campaign ran, true by construction: "proposed" (who proposed
    and checked), "template" (what a hypothesis edits), "scored" (the ladder, the keep rule,
    confirmation) and "lineage"."""
    out: dict[str, list[str]] = {"proposed": [], "template": [], "scored": [], "lineage": []}
    said = out["proposed"]
    if not p.proposed:
        said.append("No hypothesis was proposed.")
    elif p.generator == "search":
        said.append(
            "Hypotheses were proposed by the task's built-in search generator; no language "
            "model took part in proposing them and no critic reviewed them."
        )
    else:
        model = p.model("proposer")
        said.append(
            "Hypotheses were proposed by a language model"
            + (f" ({model})." if model else " (its name was not recorded).")
        )
        if p.reviewed:
            critic = p.model("critic")
            n = len(p.reviewed)
            share = (
                "the one proposal"
                if n == len(p.proposed) == 1
                else f"all {n} proposals"
                if n == len(p.proposed)
                else f"{n} of the {len(p.proposed)} proposals"
            )
            said.append(
                f"A critic model{f' ({critic})' if critic else ''} reviewed {share}"
                + (" before it ran" if n == 1 else " before they ran")
                + (f" and rejected {len(p.rejected)}." if p.rejected else "; it rejected none.")
            )
        else:
            said.append("No critic review is recorded: the proposals ran unreviewed.")
        if p.unreviewed and p.reviewed:
            said.append(
                f"{len(p.unreviewed)} ran without a review (an unusable reply or no tokens left)."
            )
        if p.repaired:
            coder = p.model("coder")
            said.append(
                f"A coder model{f' ({coder})' if coder else ''} rewrote the code of "
                f"{len(p.repaired)} after a failed check or the critic's request."
            )
    if p.references:
        names = ", ".join(sorted(set(p.references.values())))
        many = len(p.references) > 1
        said.append(
            f"Beside them, {len(p.references)} reference point{'s' if many else ''} from the "
            f"task's catalogue ({names}) {'were' if many else 'was'} measured: published "
            "components, not proposals, run without a review."
        )
    said.append(
        "Those that passed the static checks ran in a hardened container, one per hypothesis, "
        "and were scored by trusted code on the host."
    )
    t = p.template
    if t is not None:
        blocks = ", ".join(t.blocks) or "none found"
        out["template"].append(
            f"A hypothesis is a set of edits to the editable blocks of the task's script "
            f"{t.script} ({blocks}); the rest of the script is fixed, and the score, "
            f"{t.label}, is computed on the host from the predictions the script returns."
        )
    scored = out["scored"]
    if p.rungs:
        runs = ", ".join(f"{b} ({n})" for b, n in p.rungs.items())
        ladder = " then ".join(p.ladder)
        scored.append(
            f"Results were measured on the budget ladder {ladder}, with hypotheses measured "
            f"per rung: {runs}."
        )
        if t is not None and t.rungs:
            units = rung_units(t, list(p.rungs))
            if units:
                scored.append(f"In the script's own units the rungs run were {units}.")
        if p.probed:
            against = " and with the task's published components" if p.catalogue else ""
            scored.append(
                f"The behaviour of {p.probed} hypotheses was probed and compared with one "
                f"another's{against}."
            )
        if p.ranked:
            scored.append(
                f"A {p.reward_model} reward model ranked {p.ranked} of them before screening."
            )
        scored.append(
            "A hypothesis is kept when the lower bound of its win rate is above one half "
            "after a multiple-comparison correction."
        )
        if p.confirm:
            scored.append(
                "It is a discovery only when it is then confirmed on held-out splits; "
                + (
                    "none was run on them."
                    if p.confirmed_runs == 0
                    else "one hypothesis was run on them."
                    if p.confirmed_runs == 1
                    else f"{p.confirmed_runs} hypotheses were run on them."
                )
            )
        else:
            scored.append(
                "Held-out confirmation was off in this campaign, so no result is a discovery."
            )
    else:
        scored.append("No hypothesis was scored.")
    if p.lineage:
        pairs = _ids(f"{h} from {parent}" for h, parent in p.parents.items())
        out["lineage"].append(
            f"{len(p.parents)} of the proposals named a parent hypothesis and built on its code "
            f"({pairs}); the longest line of descent is {p.deepest} "
            f"generation{'s' if p.deepest != 1 else ''} deep."
        )
        if p.picked:
            ways = ", ".join(f"{by} ({n})" for by, n in p.picked.items())
            out["lineage"].append(f"Parents were picked by the campaign's rule: {ways}.")
    elif p.lineage_recorded and p.proposed:
        out["lineage"].append("No parent hypothesis was named by any proposal.")
    return out
