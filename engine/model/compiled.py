"""Loading the engine's compiled parts: each the C form (Cython) of a hot path whose Python form is the reference.

A compiled module is used only where it was built from the source beside it: `pip install` builds it where a C
compiler is at hand, stamping it with its source's sha256 (its .pyx and the C it shares with the others), and a
module older than its source (the source edited, the build not run again) would run code nobody reads, so it is
refused with a warning and the Python form runs.
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

SHARED = (Path(__file__).with_name("_canonical.pxd"),)
"""The C several compiled parts include (`cimport`): part of the source of each."""

LOADED: list[str] = []
"""The compiled modules in use in this process, in the order they were loaded (for the benchmarks to say)."""


def source_digest(source: Path) -> str:
    """The sha256 a compiled part built from `source` is stamped with (by setup.py): that .pyx and the shared C."""
    return hashlib.sha256(b"".join(path.read_bytes() for path in (source, *SHARED))).hexdigest()


def load(module: str, source: Path) -> ModuleType | None:
    """The compiled module `module`, built from `source`; None where it was not built, is older than its source (the
    .pyx, or the shared C), or the Python forms are asked for."""
    if os.environ.get("ENGINE_PURE_PYTHON"):
        return None
    try:
        compiled = importlib.import_module(module)
    except ImportError:
        return None
    sources_here = source.exists() and all(path.exists() for path in SHARED)   # (an install without them: trusted)
    if sources_here and source_digest(source) != getattr(compiled, "SOURCE", None):
        log.warning("%s changed since it was compiled: using the Python form (run `pip install -e .` again to "
                    "rebuild it)", source)
        return None
    if module not in LOADED:
        LOADED.append(module)
    return compiled
