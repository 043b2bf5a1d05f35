"""One headless Chromium launch: the rendered DOM, a screenshot and the browser's log.

A single launch does all three (``--dump-dom`` and ``--screenshot`` combine),
because starting Chromium is the slow part of a browser test.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

TIMEOUT = 90.0  # seconds; a launch takes 1-3 s, a cold CI machine a little more

# Nothing the page does may reach the network, and nothing Chromium does on
# its own (updates, sync, field trials) may either: the test stays offline.
FLAGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where the sandbox refuses to start
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",  # console messages arrive as "...:CONSOLE..." lines
    "--v=0",
]


@dataclass(frozen=True)
class BrowserRun:
    """What one page load left behind."""

    dom: str  # document.documentElement.outerHTML after the page's scripts ran
    log: str  # Chromium's stderr
    screenshot: Path


def open_page(
    binary: str, page: Path, workdir: Path, window: str = "1280,2000"
) -> BrowserRun:
    """Load ``page`` in ``binary`` (Chromium) with a fresh profile under ``workdir``."""
    screenshot = workdir / "screenshot.png"
    command = [
        binary,
        *FLAGS,
        f"--user-data-dir={workdir / 'profile'}",
        f"--screenshot={screenshot}",
        f"--window-size={window}",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    # Its own session, so a hung browser is killed with every helper process it spawned.
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    if process.returncode != 0:
        raise RuntimeError(
            f"chromium exited with {process.returncode}:\n{err.decode(errors='replace')[-2000:]}"
        )
    return BrowserRun(
        out.decode("utf-8", errors="replace"),
        err.decode("utf-8", errors="replace"),
        screenshot,
    )
