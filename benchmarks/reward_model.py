"""How well the reward model ranks hypotheses it has not seen.

1. Fills a Chroma archive (resumable) with one-pass evaluations from two generators: the built-in
   evolutionary search and the embedded LLM (SmolLM2 with the proposal grammar). Hypotheses are
   evaluated in the real sandbox, several per container to share the torch import.
2. Prints Kendall's tau, Spearman, Pearson and the discovery AUC against random order on held-out
   splits (newest 30% by time; each generator in turn), for every reward model.

Run: .venv/bin/python benchmarks/reward_model.py [--search 250] [--llm 60] [--archive DIR]
Goal: tau >= 0.6 on a held-out generator, discovery AUC >= 1.5x random.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
from _common import evaluator
from rich.progress import Progress

from evaluators.activation.harness import ActivationEvaluator as ACTIVATION
from evaluators.activation.search import SearchGenerator
from evaluators.novelty import ArchiveEntry, NoveltyArchive
from evaluators.reward import MODELS, held_out

BATCH = 10


def evaluate_into(archive: NoveltyArchive, ev, generator: str, batch: list[tuple[str, str]]) -> int:
    """Evaluate (idea, code) pairs in one container; archive each with its outcome."""
    sources = {f"h{i}": code for i, (_, code) in enumerate(batch)}
    reports = ev.evaluate_many(sources, "one-pass")
    for i, (idea, code) in enumerate(batch):
        report = reports[f"h{i}"]
        sha = hashlib.sha256(code.encode()).hexdigest()[:16]
        archive.add(
            ArchiveEntry(
                id=f"bench/{generator}/{sha}",
                task="activation",
                campaign="bench",
                generator=generator,
                idea=idea,
                code=code,
                outcome=report.status.value,
                win_rate=report.win_rate,
                screen_win_rate=report.win_rate,
                fingerprint=ev.behaviour(report, f"h{i}"),
            )
        )
    return len(batch)


def fill_search(archive: NoveltyArchive, ev, want: int, progress: Progress) -> None:
    have = [e for e in archive.examples("activation", "bench") if e.generator == "search"]
    gen = SearchGenerator(seed=len(have))
    seen = {e.code for e in have}
    task = progress.add_task("search generator", total=want, completed=len(have))
    while len(seen) < want:
        known = [(e.idea, e.target or 0.0) for e in archive.examples("activation", "bench")]
        batch: list[tuple[str, str]] = []
        while len(batch) < min(BATCH, want - len(seen)):
            idea, code = gen.propose("novel" if len(batch) % 2 else "incremental", known)
            if code not in seen:
                seen.add(code)
                batch.append((idea, code))
        progress.advance(task, evaluate_into(archive, ev, "search", batch))


def fill_llm(archive: NoveltyArchive, ev, want: int, progress: Progress) -> None:
    from agents import proposer
    from agents.llm import make_chat_model
    from core.settings import LLMSettings
    from evaluators.activation.harness import ActivationEvaluator
    from hypoforge.llm_server import embedded_server

    have = [e for e in archive.examples("activation", "bench") if e.generator == "smollm2"]
    if len(have) >= want:
        return
    seen = {e.code for e in have}
    llm = LLMSettings()
    task = progress.add_task("embedded LLM", total=want, completed=len(have))
    with embedded_server(llm.model) as url:
        model = make_chat_model(llm, url, "proposer", ActivationEvaluator.grammars()["proposer"])
        batch: list[tuple[str, str]] = []
        attempts = 0
        while len(seen) < want and attempts < want * 4:
            attempts += 1
            answer = proposer.propose(
                model,
                mode="novel" if attempts % 2 else "incremental",
                task_description=ev.description,
                best=[],
                failures=[],
                predictions=[],
                retries=1,
                task_dir=ACTIVATION.folder,  # the activation task's own prompts
            )
            if answer.value is None or answer.value.code in seen:
                continue
            seen.add(answer.value.code)
            batch.append((answer.value.idea, answer.value.code))
            if len(batch) == BATCH or len(seen) == want:
                progress.advance(task, evaluate_into(archive, ev, "smollm2", batch))
                batch = []


def compare_generators(examples: list) -> None:
    """The generators at equal budget: the first N proposals of each (N = the smallest count)."""
    by_gen: dict[str, list] = {}
    for e in examples:
        by_gen.setdefault(e.generator, []).append(e)
    n = min(len(v) for v in by_gen.values())
    for gen, items in sorted(by_gen.items()):
        first = items[:n]
        passed = [e for e in first if e.rankable]
        wins = [e.target for e in passed if e.target is not None]
        print(
            f"generator {gen:8s} first {n}: {len(passed)} passed the probe, "
            f"mean win rate {np.mean(wins) if wins else float('nan'):.3f}, "
            f"best {max(wins, default=float('nan')):.3f}, "
            f"{sum(w > 0.5 for w in wins)} beat the baselines (win rate > 0.5)"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--search", type=int, default=250)
    ap.add_argument("--llm", type=int, default=60)
    ap.add_argument("--archive", type=Path, default=None)
    args = ap.parse_args()
    ev, sandbox = evaluator()
    path = args.archive or ev.home / "bench-archive"
    archive = NoveltyArchive(path)
    start = time.monotonic()
    with Progress() as progress:
        fill_search(archive, ev, args.search, progress)
        fill_llm(archive, ev, args.llm, progress)
    sandbox.close()
    examples = archive.examples("activation", "bench")
    labelled = [e for e in examples if e.target is not None]
    ok = [e for e in labelled if e.rankable]
    print(f"archive {path}: {len(examples)} hypotheses, {len(labelled)} labelled, "
          f"{len(ok)} passed the probe; filled in {time.monotonic() - start:.0f} s")  # fmt: skip
    compare_generators(examples)
    for kind in MODELS:
        t = time.monotonic()
        for split, m in held_out(examples, kind).items():
            print(
                f"{kind:5s} {split:32s} n={m['n']:.0f} tau={m['kendall_tau']:.3f} "
                f"spearman={m['spearman']:.3f} pearson={m['pearson']:.3f} "
                f"discovery AUC/random={m['discovery_auc_vs_random']:.2f}"
            )
        print(f"{kind:5s} fitted and scored in {time.monotonic() - t:.1f} s")


if __name__ == "__main__":
    main()
