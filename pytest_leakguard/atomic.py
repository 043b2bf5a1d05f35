"""Writing report files so that a crash never leaves half a file."""

from __future__ import annotations

import os
import tempfile


def write_text_atomically(path: str, text: str) -> None:
    """Write to a temporary file beside ``path``, then rename it into place."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".leakguard-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; reports are shared
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
