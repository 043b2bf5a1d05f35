"""Standalone: blockbuster activation leaves growth that decays to ~0 after ~1000 activations.

Run with a Python that has blockbuster:  python realworld/repros/blockbuster_decay.py
"""

from __future__ import annotations

import gc
import tracemalloc

from blockbuster import blockbuster_ctx


def once() -> None:
    with blockbuster_ctx():
        pass


for _ in range(5):
    once()
tracemalloc.start()
gc.collect()
previous = tracemalloc.get_traced_memory()[0]
for i in range(1, 2001):
    once()
    if i % 250 == 0:
        gc.collect()
        current = tracemalloc.get_traced_memory()[0]
        print(f"after {i:4} activations: {(current - previous) / 250:+8.1f} B per activation")
        previous = current
