"""The build backend: setuptools' own, plus the compiler as a build requirement when asked.

``pip install .`` builds the pure-Python package (no compiler, no extra build requirement).
``CLUSTERSIM_COMPILE=1 pip install .`` also compiles the engine's hot modules with mypyc
(``setup.py``); mypy (which includes mypyc) and the libraries whose types it reads are then
fetched into the isolated build environment, and a C compiler must be present.
"""

from __future__ import annotations

import os

from setuptools import build_meta as _meta
from setuptools.build_meta import *  # noqa: F403  (every hook setuptools defines)

COMPILE_REQUIRES = ["mypy>=1.10", "mypy_extensions>=1.0", "simpy>=4.1", "numpy>=1.26"]


def compiling() -> bool:
    return os.environ.get("CLUSTERSIM_COMPILE", "0") not in ("", "0")


def _extra() -> list[str]:
    return COMPILE_REQUIRES if compiling() else []


def _asking(hook, *args):
    """setuptools runs setup.py to list its requirements (before mypyc is installed) and the
    metadata: tell it not to compile on those runs."""
    os.environ["CLUSTERSIM_LISTING_REQUIRES"] = "1"
    try:
        return hook(*args)
    finally:
        del os.environ["CLUSTERSIM_LISTING_REQUIRES"]


def get_requires_for_build_wheel(config_settings=None):
    return _asking(_meta.get_requires_for_build_wheel, config_settings) + _extra()


def get_requires_for_build_editable(config_settings=None):
    return _asking(_meta.get_requires_for_build_editable, config_settings) + _extra()


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    return _asking(_meta.prepare_metadata_for_build_wheel, metadata_directory, config_settings)


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return _asking(_meta.prepare_metadata_for_build_editable, metadata_directory, config_settings)
