"""Reading trace inputs as bytes: files, gzip, tarballs and folders of per-cluster files.

Every adapter starts here. :func:`read_bytes` returns a file's content (gunzipped, without a
UTF-8 byte-order mark, refusing empty files); :func:`read_member` and
:func:`cluster_log_files` pick one cluster's file out of a tarball or folder, and
:func:`pick_cluster` / :func:`no_cluster` check the ``cluster=`` argument.  Problems raise
:class:`clustersim.errors.TraceError` naming the file.
"""

from __future__ import annotations

import gzip
import re
import tarfile
import zlib
from collections.abc import Sequence
from pathlib import Path

from clustersim.errors import TraceError

_BOM = b"\xef\xbb\xbf"
_NON_SPACE = re.compile(rb"\S")


def read_bytes(path: Path) -> bytes:
    """Return the bytes of ``path`` (gunzipped if gzip-compressed); TraceError otherwise."""
    if not path.exists():
        raise TraceError(str(path), "no such file")
    if path.is_dir():
        raise TraceError(str(path), "is a directory, expected a trace file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TraceError(str(path), f"cannot read file: {exc}") from exc
    return _content(str(path), data)


def _content(label: str, data: bytes) -> bytes:
    """Decompress gzip data, drop a UTF-8 byte-order mark, refuse empty content."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise TraceError(label, f"cannot decompress: {exc}") from exc
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if is_blank_bytes(data):
        raise TraceError(label, "empty file")
    if b"\n" not in data and b"\r" in data:  # classic Mac line ends: one line each
        data = data.replace(b"\r", b"\n")
    return data


def is_blank_bytes(data: bytes) -> bool:
    """True when ``data`` holds nothing but ASCII whitespace."""
    return _NON_SPACE.search(data) is None


def read_tar_member(path: Path, cluster: str | None, suffixes: Sequence[str]) -> tuple[str, bytes]:
    """Pick one member of a tarball by cluster name (file stem); return (label, bytes)."""
    try:
        with tarfile.open(path) as tar:
            members = {
                _stem(m.name): m
                for m in tar.getmembers()
                if m.isfile() and m.name.lower().endswith(tuple(suffixes))
            }
            if not members:
                raise TraceError(str(path), f"tarball holds no {'/'.join(suffixes)} file")
            member = members[pick_cluster(path, cluster, sorted(members))]
            handle = tar.extractfile(member)
            data = handle.read() if handle is not None else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise TraceError(str(path), f"cannot read tarball: {exc}") from exc
    label = f"{path}[{member.name}]"
    return label, _content(label, data)


def read_member(path: Path, cluster: str | None, suffixes: Sequence[str]) -> tuple[str, bytes]:
    """Bytes of one cluster's file: ``path`` is a file, a tarball, or a folder of files.

    In a tarball or folder ``cluster`` names the member by its file stem (``cluster04`` for
    ``cluster04.csv.gz``); it may be omitted when there is only one.  For a single file,
    ``cluster`` must be omitted or equal its stem.
    """
    if not path.exists():
        raise TraceError(str(path), "no such file")
    if is_tarball(path):
        return read_tar_member(path, cluster, suffixes)
    if path.is_dir():
        files = {
            _stem(p.name): p
            for p in sorted(path.iterdir())
            if p.is_file() and p.name.lower().endswith(tuple(suffixes))
        }
        if not files:
            raise TraceError(str(path), f"folder holds no {'/'.join(suffixes)} file")
        chosen = files[pick_cluster(path, cluster, sorted(files))]
        return str(chosen), read_bytes(chosen)
    if cluster is not None:
        pick_cluster(path, cluster, [_stem(path.name)])
    return str(path), read_bytes(path)


def pick_cluster(path: Path, cluster: str | None, available: Sequence[str]) -> str:
    """Resolve ``cluster`` against the cluster names found in ``path`` (case-insensitive)."""
    if cluster is None:
        if len(available) == 1:
            return available[0]
        raise TraceError(
            str(path),
            f"holds {len(available)} clusters; choose one with cluster=: {', '.join(available)}",
        )
    wanted = _stem(cluster).lower()
    for name in available:
        if name.lower() == wanted:
            return name
    raise TraceError(
        str(path), f"no cluster named {cluster!r}; available: {', '.join(available) or 'none'}"
    )


def no_cluster(path: Path, fmt: str, cluster: str | None) -> None:
    """Refuse ``cluster=`` for a format that has one cluster per file."""
    if cluster is not None:
        raise TraceError(str(path), f"format {fmt!r} holds one cluster per file; drop cluster=")


def _stem(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".gz", ".csv", ".swf", ".json", ".txt"):
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
    return base


def is_tarball(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and name.endswith((".tar.gz", ".tgz", ".tar"))


def cluster_log_files(folder: Path, pattern: str) -> dict[str, Path]:
    """Map cluster name to file for ``pattern`` (a glob with one ``*`` for the name)."""
    found: dict[str, Path] = {}
    prefix, _, suffix = pattern.partition("*")
    for p in sorted(folder.glob(pattern)):
        if p.is_file():
            rel = p.relative_to(folder).as_posix()
            found[rel[len(prefix) : len(rel) - len(suffix)]] = p
    return found
