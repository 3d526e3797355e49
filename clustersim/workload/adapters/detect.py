"""Guess a trace's format from its file name and first line (or first JSON record).

Rules, first match wins:

* folder: ``pai_job_table.csv`` inside -> pai2020; ``cluster_log.csv`` inside or in a
  sub-folder -> helios; ``trace_*.csv`` -> acme; otherwise the first ``*.csv``'s header.
* tarball: the header of its first CSV member.
* file named ``pai_job_table*`` -> pai2020; ``*.swf`` -> swf.
* first non-blank line: ``[`` or ``{`` with Philly keys -> philly; ``;`` -> swf; a CSV header
  holding a format's required columns -> itp / alibaba2023 / acme (has ``type`` or
  ``gpu_time``) / helios (has ``vc``); PAI's job header or a headerless 6-field PAI row ->
  pai2020; 18 whitespace-separated numbers -> swf.
"""

from __future__ import annotations

import gzip
import re
import tarfile
import zlib
from pathlib import Path

from clustersim.errors import TraceError
from clustersim.workload.adapters import acme, alibaba2023, helios, itp, pai2020
from clustersim.workload.adapters.reading import is_tarball
from clustersim.workload.adapters.tables import parse_header

_SNIFF_BYTES = 1 << 16
_PHILLY_KEYS = ('"attempts"', '"submitted_time"', '"jobid"')
_PAI_STATUS = {"Terminated", "Failed", "Running", "Waiting"}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def detect(path: Path, formats: tuple[str, ...]) -> str:
    """The format name for ``path``; TraceError listing ``formats`` when nothing matches."""
    if not path.exists():
        raise TraceError(str(path), "no such file")
    found = _detect(path)
    if found is None:
        raise TraceError(
            str(path),
            f"cannot tell the trace format; give --format, one of: native, {', '.join(formats)}",
        )
    return found


def _detect(path: Path) -> str | None:
    if path.is_dir():
        return _detect_folder(path)
    name = path.name.lower()
    if is_tarball(path):
        return _detect_tarball(path)
    if name.startswith("pai_job_table"):
        return "pai2020"
    if name.endswith((".swf", ".swf.gz")):
        return "swf"
    return sniff(_head(path))


def _detect_folder(path: Path) -> str | None:
    if any((path / f"pai_job_table{s}").is_file() for s in (".csv", ".csv.gz")):
        return "pai2020"
    if any(path.glob("cluster_log.csv*")) or any(path.glob("*/cluster_log.csv*")):
        return "helios"
    if any(p.is_file() for p in path.glob("trace_*.csv*")):
        return "acme"
    for candidate in sorted(path.iterdir()):
        if candidate.is_file() and candidate.name.lower().endswith((".csv", ".csv.gz")):
            return sniff(_head(candidate))
    return None


def _detect_tarball(path: Path) -> str | None:
    try:
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.lower().endswith(".csv"):
                    handle = tar.extractfile(member)
                    if handle is not None:
                        return sniff(handle.read(_SNIFF_BYTES))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise TraceError(str(path), f"cannot read tarball: {exc}") from exc
    return None


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as raw:
            magic = raw.read(2)
        if magic == b"\x1f\x8b":
            with gzip.open(path, "rb") as handle:
                return handle.read(_SNIFF_BYTES)
        with path.open("rb") as handle:
            return handle.read(_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise TraceError(str(path), f"cannot read file: {exc}") from exc


def sniff(head: bytes) -> str | None:
    """Format from the first bytes of a file, or None."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    first = lines[0]
    if first.startswith(("[", "{")):
        return "philly" if any(key in text for key in _PHILLY_KEYS) else None
    if first.startswith(";"):
        return "swf"
    header = set(parse_header(first))
    if set(itp.COLUMNS) <= header:
        return "itp"
    if set(alibaba2023.REQUIRED) <= header:
        return "alibaba2023"
    if set(acme.REQUIRED) <= header and ({"type", "gpu_time"} & header):
        return "acme"
    if set(helios.REQUIRED) <= header and "vc" in header:
        return "helios"
    fields = parse_header(first)
    if fields == list(pai2020.JOB_COLUMNS):
        return "pai2020"
    if len(fields) == len(pai2020.JOB_COLUMNS) and fields[3] in _PAI_STATUS:
        return "pai2020"
    tokens = first.split()
    if len(tokens) == 18 and all(_NUMBER.match(t) for t in tokens):
        return "swf"
    return None
