"""Files written whole or not at all: to a temporary name beside the target, then renamed
over it, so that a crash or a reader in another process never sees half a file."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_array(path: Path, array: np.ndarray) -> None:
    """``array`` as ``.npy`` at ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, np.asarray(array))
    tmp.replace(path)


def write_text(path: Path, text: str) -> None:
    """``text`` (UTF-8) at ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
