"""Loading the engine's compiled parts: each the C form (Cython) of a hot path whose Python form is the reference.

A compiled module is used only where it was built from the source beside it: `pip install` builds it where a C
compiler is at hand, stamping it with its source's sha256, and a module older than its source (the source edited,
the build not run again) would run code nobody reads, so it is refused with a warning and the Python form runs.
`ENGINE_PURE_PYTHON=1` asks for the Python forms everywhere (to compare, or to rule the compiled parts out).
"""
from __future__ import annotations

import hashlib
import importlib
import logging
import os
from pathlib import Path
from types import ModuleType

log = logging.getLogger("engine")

LOADED: list[str] = []
"""The compiled modules in use in this process, in the order they were loaded (for the benchmarks to say)."""


def load(module: str, source: Path) -> ModuleType | None:
    """The compiled module `module`, built from `source`; None where it was not built, is older than `source`, or
    the Python forms are asked for."""
    if os.environ.get("ENGINE_PURE_PYTHON"):
        return None
    try:
        compiled = importlib.import_module(module)
    except ImportError:
        return None
    if source.exists() and hashlib.sha256(source.read_bytes()).hexdigest() != getattr(compiled, "SOURCE", None):
        log.warning("%s changed since it was compiled: using the Python form (run `pip install -e .` again to "
                    "rebuild it)", source)
        return None
    if module not in LOADED:
        LOADED.append(module)
    return compiled
