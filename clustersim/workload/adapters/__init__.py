"""Trace adapters: read public GPU-cluster traces into the one native job table.

>>> trace = read_trace("workloads/itp", cluster="cluster04")      # doctest: +SKIP
>>> trace.jobs.columns.tolist()                                   # doctest: +SKIP
['job_id', 'submit_s', 'num_gpus', 'duration_s', 'job_class', 'user', 'recorded_start_s']

``read_trace`` returns an :class:`AdaptedTrace`: ``jobs`` (native columns, sorted by
``(submit_s, job_id)``, first submission at 0.0), ``rejected`` (``line``, ``reason``, ``raw``
for every input row that could not be used), the ``format`` used, the ``source`` read and
human-readable ``notes`` on the mapping.  Each format's module docstring (and
``workloads/README.md``) gives its mapping rules and rejection reasons.

A file that cannot be read at all (missing, empty, unknown format, missing required
column, malformed JSON array) raises :class:`clustersim.errors.TraceError`.  Row-level
problems put the row in ``rejected`` with a short stable reason, unless ``strict=True``, in
which case the first such row (lowest line) raises ``TraceError`` naming its line.

``cluster`` selects one cluster where an input holds several: ITP (member of
``raw-traces.tar.gz`` or file in a folder, by file stem such as ``cluster04``), Helios
(``<Cluster>/cluster_log.csv`` in a folder, or the ``cluster`` column of a merged log) and
Acme (``trace_<cluster>.csv`` in a folder).  Formats with one cluster per file refuse it.

One module per format (``itp``, ``alibaba2023``, ``pai2020``, ``philly``, ``helios``,
``acme``, ``swf``; ``detect`` guesses the format), built on shared machinery: ``reading``
(bytes, gzip, tarballs, folders, cluster choice), ``tables`` (lines and fields with exact line
numbers), ``parsing`` (numbers and date-times), ``rejections`` (``RowSet``: which rows are
unusable and why) and ``builders`` (the native table, ``AdaptedTrace``).
"""

from __future__ import annotations

import dataclasses
import os
import tarfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

import pyarrow as pa

from clustersim.errors import TraceError
from clustersim.workload.adapters import acme, alibaba2023, helios, itp, pai2020, philly, swf
from clustersim.workload.adapters.builders import NATIVE_COLUMNS, AdaptedTrace
from clustersim.workload.adapters.detect import detect
from clustersim.workload.adapters.rejections import REJECTED_COLUMNS

__all__ = [
    "FORMATS",
    "NATIVE_COLUMNS",
    "REJECTED_COLUMNS",
    "AdaptedTrace",
    "read_trace",
]

Reader = Callable[..., AdaptedTrace]

FORMATS: tuple[str, ...] = ("itp", "alibaba2023", "pai2020", "philly", "helios", "acme", "swf")

_READERS: Mapping[str, Reader] = MappingProxyType(
    {
        "itp": itp.read,
        "alibaba2023": alibaba2023.read,
        "pai2020": pai2020.read,
        "philly": philly.read,
        "helios": helios.read,
        "acme": acme.read,
        "swf": swf.read,
    }
)


def read_trace(
    path: str | os.PathLike[str],
    fmt: str = "auto",
    *,
    strict: bool = False,
    cluster: str | None = None,
) -> AdaptedTrace:
    """Read the trace at ``path`` in format ``fmt`` (``"auto"`` to detect it)."""
    p = Path(path)
    name = fmt.strip().lower()
    if name != "auto" and name not in _READERS:
        raise TraceError(str(p), f"unknown trace format {fmt!r}; known: auto, {', '.join(FORMATS)}")
    try:
        chosen = detect(p, FORMATS) if name == "auto" else name
        trace = _READERS[chosen](p, strict=strict, cluster=cluster)
    except TraceError:
        raise
    except (
        OSError,
        EOFError,
        ValueError,
        KeyError,
        IndexError,
        zlib.error,
        tarfile.TarError,
        pa.ArrowException,
    ) as exc:
        raise TraceError(str(p), f"cannot read trace: {exc}") from exc
    if name == "auto":
        trace = dataclasses.replace(
            trace, notes=(f"format detected automatically: {chosen}", *trace.notes)
        )
    return trace
