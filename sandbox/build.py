"""The sandbox image: its content-hash tag and the offline build.

The tag is a hash of the recipe (build script, Dockerfile, pinned requirements), so a changed recipe
gives a new image, and an unchanged one is never rebuilt. The built image's own id is recorded with
every result (``tag@id``).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from core.errors import InfraError

IMAGE_DIR = Path(__file__).parent / "image"
RECIPE_FILES = ("build_offline.sh", "requirements.txt", "Dockerfile")
REPOSITORY = "hypoforge-sandbox"


def recipe_hash(folder: Path = IMAGE_DIR, names: tuple[str, ...] = RECIPE_FILES) -> str:
    """The content hash of an image recipe: ``names`` in ``folder`` (the sandbox image's by
    default; the TeX image's is ``sandbox/tex``)."""
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def default_tag() -> str:
    """The tag of the image this checkout's recipe builds."""
    return f"{REPOSITORY}:{recipe_hash()}"


def build_offline(tag: str | None = None, python: str | None = None) -> str:
    """Build the image with no registry (debootstrap + pinned wheels); return its tag.

    Needs root (debootstrap) and a running Docker engine. Raises ``InfraError`` on failure.
    """
    tag = tag or default_tag()
    script = IMAGE_DIR / "build_offline.sh"
    proc = subprocess.run(["bash", str(script), tag, python or sys.executable], check=False)
    if proc.returncode != 0:
        raise InfraError(f"building the sandbox image {tag} failed (exit {proc.returncode})")
    return tag
