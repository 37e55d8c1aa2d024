"""The wheel carries prompts/ and examples/ as package data under agents/_bundled/ (see agents/bundled.py).

Everything else about the package is in pyproject.toml; this file only adds that copy to the build.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("prompts", "examples")
# What a run of an example in place leaves behind (archives, state, caches, merged weights) stays out.
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.pyc", ".clade", "archive", "out", "*.tmp")


class BuildWithBundled(build_py):
    def run(self):
        super().run()
        for name in BUNDLED:
            target = Path(self.build_lib) / "agents" / "_bundled" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(Path(__file__).parent / name, target, ignore=LEFT_OUT)


setup(cmdclass={"build_py": BuildWithBundled})
