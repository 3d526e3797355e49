"""Optional compiled build of the engine's hot modules (everything else is in pyproject.toml).

By default this adds nothing: the package is pure Python. With ``CLUSTERSIM_COMPILE=1`` the
modules below are compiled with mypyc, unchanged: the .py files stay the reference, and the
compiled build must give byte-identical outputs (``tests/golden/test_compiled.py``). A
compiled wheel is specific to the platform and the Python version it was built on.

    pip install .                              # pure Python, no compiler needed
    CLUSTERSIM_COMPILE=1 pip install .         # compiled (needs a C compiler)
    CLUSTERSIM_COMPILE=1 python setup.py build_ext --inplace   # in a checkout (needs mypy)
"""

from __future__ import annotations

import os

from setuptools import setup

COMPILED = [
    "clustersim/model.py",
    "clustersim/rng.py",
    "clustersim/engine/clock.py",
    "clustersim/engine/core.py",
    "clustersim/engine/cluster.py",
    "clustersim/engine/pool.py",
    "clustersim/engine/queue.py",
    "clustersim/engine/grouped_queue.py",
    "clustersim/engine/segments.py",
    "clustersim/engine/placement.py",
    "clustersim/engine/availability.py",
    "clustersim/engine/policies/strict.py",
    "clustersim/engine/policies/easy.py",
    "clustersim/engine/policies/conservative.py",
    "clustersim/engine/preemption.py",
    "clustersim/engine/policies/preemptive.py",
    "clustersim/engine/policies/las.py",
    "clustersim/engine/policies/srtf.py",
    "clustersim/results/recorder.py",
    "clustersim/workload/synthetic.py",
]


def ext_modules() -> list:
    if os.environ.get("CLUSTERSIM_COMPILE", "0") in ("", "0") or os.environ.get("CLUSTERSIM_LISTING_REQUIRES"):
        return []
    from mypyc.build import mypycify

    # untyped libraries (pandas, pyarrow) are read as Any; imported modules are type-checked
    # but not compiled
    return mypycify(["--ignore-missing-imports", "--follow-imports=silent", *COMPILED], opt_level="3")


setup(ext_modules=ext_modules())
