"""The per-installation data secret: what makes the datasets impossible to rebuild in a container.

Every generated sample, every train/test assignment, every secret perturbation of a public dataset
and grokking's token renaming is drawn from seeds derived from 32 random bytes kept on the host at
``<home>/secret.key`` (mode 0600, created on first use). The file is never mounted into a
container and never logged; only its ``id`` (a short, domain-separated hash) is recorded with each
result, so that results stay reproducible on that installation and comparable only within it.

Deleting the file gives the installation new data: new splits, new baselines, new experiment
keys. An existing file is never silently regenerated: a damaged one is a ``ConfigError``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ConfigError

KEY_BYTES = 32
FILE_NAME = "secret.key"
_ID_DOMAIN = b"hypoforge/data-secret/id/v1\x00"
_SEED_DOMAIN = b"hypoforge/data-secret/seed/v1"


@dataclass(frozen=True)
class DataSecret:
    """A data secret: ``key`` derives every secret seed; ``id`` names it in results."""

    key: bytes
    id: str

    def __repr__(self) -> str:  # never print the key, even in a traceback
        return f"DataSecret(id={self.id!r})"


def make_secret(key: bytes) -> DataSecret:
    """The secret of ``key`` (exactly ``KEY_BYTES`` bytes), with its public id."""
    if len(key) != KEY_BYTES:
        raise ConfigError(f"a data secret is {KEY_BYTES} bytes, not {len(key)}")
    return DataSecret(key=key, id=hashlib.sha256(_ID_DOMAIN + key).hexdigest()[:12])


# PUBLIC: a fixed key that anyone can read here, for unit tests and examples ONLY. Data drawn from
# it is as rebuildable as the old fixed seeds were; evaluators always use ``installation_secret``.
PUBLIC = make_secret(hashlib.sha256(b"hypoforge public test secret: NOT SECRET").digest())


def installation_secret(home: Path) -> DataSecret:
    """The secret of the installation at ``home``: ``home / "secret.key"``, created on first use.

    Creation is atomic (``O_CREAT | O_EXCL``, written to a private temporary file first), so two
    processes that race both end up with the same key. A file that exists but is not exactly
    ``KEY_BYTES`` bytes, or cannot be read, is a ``ConfigError`` naming the path.
    """
    path = Path(home) / FILE_NAME
    if not path.exists():
        _create(path)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the data secret {path}: {exc.strerror or exc}") from exc
    if len(key) != KEY_BYTES:
        raise ConfigError(
            f"the data secret {path} is damaged ({len(key)} bytes, expected {KEY_BYTES}); "
            "restore it from a backup, or delete it to start this installation over "
            "(new splits, new baselines)"
        )
    return make_secret(key)


def _create(path: Path) -> None:
    """Write a fresh key under a temporary name, then link it into place: the final name either
    does not exist or holds a complete key, so a racing reader never sees half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(KEY_BYTES))
                f.flush()
                os.fsync(f.fileno())
            # Fails if another process got there first: its key wins, and both read it.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the data secret {path}: {exc.strerror or exc}") from exc


def _digest(secret: DataSecret, labels: tuple[object, ...]) -> bytes:
    # Labels are joined unambiguously (length-prefixed reprs), so ("a", "bc") != ("ab", "c").
    parts = [_SEED_DOMAIN]
    for label in labels:
        text = repr(label).encode()
        parts.append(len(text).to_bytes(4, "big") + text)
    return hmac.new(secret.key, b"".join(parts), hashlib.sha256).digest()


def derive_seed(secret: DataSecret, *labels: object) -> int:
    """A seed in ``[0, 2**32)`` for ``labels`` (e.g. ``"moons", "samples"``): HMAC-SHA256 of the
    labels under the secret, so usable as an sklearn ``random_state`` or a legacy numpy seed."""
    return int.from_bytes(_digest(secret, labels)[:4], "big")


def derive_rng(secret: DataSecret, *labels: object) -> np.random.Generator:
    """A numpy Generator seeded with the full 256-bit HMAC of ``labels`` under the secret."""
    return np.random.default_rng(int.from_bytes(_digest(secret, labels), "big"))
