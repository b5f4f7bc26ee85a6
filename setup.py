"""The engine's compiled parts (the metadata is in pyproject.toml): the C forms of three hot paths, each beside the
Python form it must agree with: `engine/model/_numbers_compiled.pyx` (exact numbers of depth levels and parser
misses), `engine/replay/_capture_compiled.pyx` (a capture's lines into records) and
`adapters/binance/_frames_compiled.pyx` (a Binance frame's bytes straight to its event).

Optional: where no C compiler is at hand (or, built without isolation, no Cython) the build goes on without them,
and the Python forms run. The build stamps each module with its source's sha256 (with the C they share,
`engine/model/_canonical.pxd`), so that a build older than its source is never used (`engine.model.compiled`).
"""
import sys
from pathlib import Path

from setuptools import Extension, setup

sys.path.insert(0, str(Path(__file__).resolve().parent))   # (a build backend may not put the project on the path)
from engine.model.compiled import source_digest  # noqa: E402  (standard library only)

SOURCES = {"engine.model._numbers_compiled": Path("engine/model/_numbers_compiled.pyx"),
           "engine.replay._capture_compiled": Path("engine/replay/_capture_compiled.pyx"),
           "adapters.binance._frames_compiled": Path("adapters/binance/_frames_compiled.pyx")}

try:
    from Cython.Build import cythonize
except ImportError:   # pyproject.toml's build requirements bring it; a build without them gets the Python forms
    setup()
else:
    extensions = [Extension(name, [str(source)], optional=True,
                            define_macros=[("SOURCE_SHA256", f'"{source_digest(source)}"')])
                  for name, source in SOURCES.items()]
    setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": 3}, include_path=["."],
                                quiet=True))
