"""The engine's one compiled part, `engine/model/_numbers_compiled.pyx` (the metadata is in pyproject.toml).

Optional: where no C compiler is at hand the build goes on without it, and `engine.model.numbers` uses the Python
form of the same function. The build stamps the module with its source's sha256, so that a build older than its
source is never used.
"""
import hashlib
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

SOURCE = Path("engine/model/_numbers_compiled.pyx")
digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
extension = Extension("engine.model._numbers_compiled", [str(SOURCE)], optional=True,
                      define_macros=[("SOURCE_SHA256", f'"{digest}"')])
setup(ext_modules=cythonize([extension], compiler_directives={"language_level": 3}, quiet=True))
