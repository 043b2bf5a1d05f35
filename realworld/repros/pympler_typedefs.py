"""Standalone: pympler.asizeof keeps every class it has sized (module-level _typedefs, keyed by type).

Run with a Python that has pympler:  python realworld/repros/pympler_typedefs.py   # -> 50 of 50 alive
"""
from __future__ import annotations

import gc
import weakref

import pympler.asizeof as pa

refs = []
for _ in range(50):

    class C:
        def __init__(self):
            self.x = 1

    pa.asizeof(C())
    refs.append(weakref.ref(C))
del C
gc.collect()
print(f"classes alive after asizeof: {sum(r() is not None for r in refs)} of 50; len(_typedefs) = {len(pa._typedefs)}")
