"""Shared machinery for the trace adapters.

Every adapter reads its input into a :class:`RowSet` (one entry per candidate job row, with
its physical line number and raw text), flags unusable rows with a short stable reason, and
hands aligned column arrays to :func:`build_trace`, which shifts, sorts and types them into
the native table.  Parsing is vectorised with pyarrow compute kernels: a file is split into
physical lines once (so line numbers are exact by construction), then into fields.
"""

from __future__ import annotations

import csv
import gzip
import re
import tarfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from clustersim.errors import TraceError

NATIVE_COLUMNS: tuple[str, ...] = (
    "job_id",
    "submit_s",
    "num_gpus",
    "duration_s",
    "job_class",
    "user",
    "recorded_start_s",
)
REJECTED_COLUMNS: tuple[str, ...] = ("line", "reason", "raw")
RAW_LIMIT = 200
DEFAULT_CLASS = "trace"  # as clustersim.model.JobSpec: a trace job with no category

_BOM = b"\xef\xbb\xbf"
_NON_SPACE = re.compile(rb"\S")
_OFFSET = re.compile(r"(Z|[+-][0-9]{2}:?[0-9]{2})$")
_NUMBER_RE = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


@dataclass(frozen=True)
class AdaptedTrace:
    """One trace turned into the native job table, plus the rows that could not be used.

    ``jobs`` has exactly :data:`NATIVE_COLUMNS` (in that order), sorted by
    ``(submit_s, job_id)`` with the first submission at 0.0.  ``rejected`` has ``line``
    (1-based physical line, header = 1; for a JSON array the record index + 1), ``reason``
    and ``raw`` (the row's text, at most 200 characters).
    """

    jobs: pd.DataFrame
    rejected: pd.DataFrame
    format: str
    source: str
    notes: tuple[str, ...]


# --------------------------------------------------------------------------- reading bytes


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


# --------------------------------------------------------------------------- lines and fields


def split_lines(data: bytes, source: str) -> pa.Array:
    """Split ``data`` on ``\\n`` into a string array, one element per physical line.

    Line ``i`` of the file (1-based) is element ``i - 1``.  Trailing ``\\r`` is removed.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    offsets = np.concatenate(([0], np.flatnonzero(buf == 10) + 1)).astype(np.int64)
    if offsets[-1] != len(data):
        offsets = np.append(offsets, np.int64(len(data)))
    arr = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data)
    )
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid as exc:
        line = _first_bad_utf8_line(data)
        raise TraceError(source, "not UTF-8 text", line=line) from exc
    return pc.utf8_rtrim(arr, characters="\r\n")


def _first_bad_utf8_line(data: bytes) -> int | None:
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return None


def is_blank(lines: pa.Array) -> np.ndarray:
    """Mask of lines that hold only whitespace."""
    return np_bool(pc.equal(pc.utf8_trim_whitespace(lines), ""))


def split_fields(
    lines: pa.Array, width: int, sep: str | None, wanted: Sequence[int]
) -> tuple[dict[int, pa.Array], np.ndarray]:
    """Split lines into ``width`` fields and return the ``wanted`` ones as string columns.

    ``sep=None`` splits on runs of whitespace (SWF); otherwise CSV with ``sep``.  Returns the
    columns by index (rows with another field count hold empty strings) and a mask of rows
    whose field count is wrong.  CSV lines containing a double quote go through the csv module.
    """
    if len(lines) == 0:
        return {i: pa.array([], pa.large_string()) for i in wanted}, np.zeros(0, bool)
    if sep is None:
        parts = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(lines))
    elif np_bool(pc.match_substring(lines, '"')).any():
        return _split_quoted(lines, width, sep, wanted)
    else:
        parts = pc.split_pattern(lines, sep)
    counts = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    wrong = counts != width
    if wrong.any():
        filler = pa.scalar([""] * width, parts.type)
        parts = pc.if_else(pa.array(~wrong), parts, filler)
    return {i: pc.list_element(parts, i) for i in wanted}, wrong


def _split_quoted(
    lines: pa.Array, width: int, sep: str, wanted: Sequence[int]
) -> tuple[dict[int, pa.Array], np.ndarray]:
    rows = lines.to_pylist()
    out: dict[int, list[str]] = {i: [] for i in wanted}
    wrong = np.zeros(len(rows), dtype=bool)
    for n, line in enumerate(rows):
        fields = next(csv.reader([line], delimiter=sep), [])
        if len(fields) != width:
            wrong[n] = True
            fields = [""] * width
        for i in wanted:
            out[i].append(fields[i])
    return {i: pa.array(col, pa.large_string()) for i, col in out.items()}, wrong


def _fast_csv(
    data: bytes, skip: int, width: int, sep: str, wanted: Sequence[int], expected: int
) -> dict[int, pa.Array] | None:
    """Parse a well-formed CSV body with pyarrow's reader, or None if any row is irregular.

    Only used when the body has no blank lines, so row ``i`` is line ``skip + i + 1``; any
    row with another field count (or a count mismatch) sends the caller to the exact path.
    """
    names = [f"c{i}" for i in range(width)]
    invalid: list[object] = []

    def handler(row: object) -> str:
        invalid.append(row)
        return "skip"

    try:
        table = pcsv.read_csv(
            pa.BufferReader(data),
            read_options=pcsv.ReadOptions(skip_rows=skip, column_names=names),
            parse_options=pcsv.ParseOptions(
                delimiter=sep, invalid_row_handler=handler, ignore_empty_lines=False
            ),
            convert_options=pcsv.ConvertOptions(
                column_types={names[i]: pa.large_string() for i in wanted},
                include_columns=[names[i] for i in wanted],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if invalid or table.num_rows != expected:
        return None
    return {i: table.column(names[i]).combine_chunks() for i in wanted}


def _one_run(keep: np.ndarray) -> bool:
    """True when the kept lines are consecutive (comments and blanks only at either end)."""
    return len(keep) > 0 and int(keep[-1] - keep[0]) == len(keep) - 1


def _fast_whitespace(
    data: bytes, first: int, last: int, width: int, wanted: Sequence[int], expected: int
) -> dict[int, pa.Array] | None:
    """Parse whitespace-separated lines ``first..last`` (0-based) by rewriting them as CSV.

    Each run of blanks between two fields becomes one comma; blanks at either end of a line
    are dropped; pyarrow's CSV reader does the rest.  Returns None (use the exact path) when
    any row has another field count.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    begin = int(newlines[first - 1]) + 1 if first > 0 else 0
    end = int(newlines[last]) + 1 if last < len(newlines) else len(buf)
    buf = buf[begin:end]
    blank = (buf == 32) | (buf == 9) | (buf == 13) | (buf == 11) | (buf == 12)
    newline = buf == 10
    field = ~(blank | newline)
    # keep field bytes, newlines, and the last blank of a run that a field follows
    keep = field | newline
    keep[:-1] |= blank[:-1] & field[1:]
    squeezed = buf[keep]
    was_blank = blank[keep]
    del blank, newline, field, keep
    # a kept blank at the start of a line was leading whitespace: drop it
    leading = was_blank.copy()
    leading[1:] &= squeezed[:-1] == 10
    csv_bytes = np.where(was_blank, np.uint8(44), squeezed)[~leading].tobytes()
    return _fast_csv(csv_bytes, 0, width, ",", wanted, expected)


def parse_header(line: str, sep: str = ",") -> list[str]:
    """Header field names, stripped of whitespace and quotes."""
    fields = next(csv.reader([line], delimiter=sep), [])
    return [f.strip().strip('"').strip() for f in fields]


def require_columns(source: str, header: Sequence[str], required: Iterable[str]) -> None:
    """TraceError naming the first missing column and listing those found."""
    for name in required:
        if name not in header:
            found = ", ".join(h for h in header if h) or "nothing"
            raise TraceError(
                source, f"missing required column {name!r}; found columns: {found}", line=1
            )


@dataclass
class Table:
    """A delimited file split into fields: candidate rows plus their columns by name."""

    rows: RowSet
    columns: dict[str, pa.Array]
    header: list[str]
    notes: list[str]

    def select(self, mask: np.ndarray) -> Table:
        """The rows where ``mask`` is true (others are dropped, not rejected)."""
        keep = pa.array(np.asarray(mask, dtype=bool))
        columns = {k: pc.filter(v, keep) for k, v in self.columns.items()}
        return Table(self.rows.select(mask), columns, self.header, list(self.notes))


def load_table(
    source: str,
    data: bytes,
    *,
    sep: str | None = ",",
    names: Sequence[str] | None = None,
    required: Sequence[str] = (),
    usecols: Sequence[str] | None = None,
    comment: str | None = None,
) -> Table:
    """Split ``data`` into rows and named string columns, with exact physical line numbers.

    With ``names=None`` the first line is the header (line 1).  With ``names`` given the file
    is headerless, except that a first line equal to ``names`` is skipped as a header.
    Blank lines and lines starting with ``comment`` are skipped (and counted in notes); rows
    with the wrong number of fields are rejected as ``wrong number of fields``.  Only the
    columns named in ``usecols`` (default: all) are materialised.
    """
    lines = split_lines(data, source)
    notes: list[str] = []
    if names is None:
        header = parse_header(lines[0].as_py(), sep or ",")
        require_columns(source, header, required)
        first = 1
    else:
        header = list(names)
        first_line = lines[0].as_py()
        fields = first_line.split() if sep is None else parse_header(first_line, sep)
        first = 1 if [f.strip() for f in fields] == header else 0
    body = lines.slice(first)
    skip = is_blank(body)
    if comment is not None:
        skip |= np_bool(pc.starts_with(pc.utf8_ltrim_whitespace(body), comment))
    keep = np.flatnonzero(~skip)
    if len(keep) < len(body):
        what = "blank or comment lines" if comment is not None else "blank lines"
        notes.append(f"{what} skipped: {len(body) - len(keep)}")
        body = pc.take(body, pa.array(keep, pa.int64()))
    rows = RowSet(keep + first + 1, body)
    wanted = [
        i
        for i, name in enumerate(header)
        if name and (usecols is None or name in usecols) and header.index(name) == i
    ]
    fields = None
    if sep is not None and comment is None and len(body) == len(lines) - first:
        fields = _fast_csv(data, first, len(header), sep, wanted, len(body))
    elif sep is None and first == 0 and _one_run(keep):
        span = (int(keep[0]), int(keep[-1]))
        fields = _fast_whitespace(data, *span, len(header), wanted, len(body))
    if fields is None:
        fields, wrong = split_fields(body, len(header), sep, wanted)
        if names is not None and len(wrong) and wrong.all():
            line = int(rows.line[0])
            raise TraceError(
                source,
                f"expected {len(header)} fields per line ({', '.join(header)}); no line has them",
                line=line,
            )
        rows.reject(wrong, "wrong number of fields")
    columns = {header[i]: fields[i] for i in wanted}
    return Table(rows, columns, header, notes)


# --------------------------------------------------------------------------- value parsing


def text(arr: pa.Array) -> pa.Array:
    """Field text with surrounding whitespace removed; null becomes empty."""
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    return pc.utf8_trim_whitespace(arr)


def is_empty(arr: pa.Array) -> np.ndarray:
    """Mask of empty (or whitespace-only, or null) fields."""
    return np_bool(pc.equal(text(arr), ""))


def parse_numbers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse numeric text: (values with NaN where unusable, empty mask, non-numeric mask).

    Non-finite spellings (``nan``, ``inf``) count as non-numeric.
    """
    trimmed = text(arr)
    empty = np_bool(pc.equal(trimmed, ""))
    masked = pc.if_else(pa.array(empty), pa.scalar(None, trimmed.type), trimmed)
    try:
        values = pc.cast(masked, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # some value is not a number: null out everything that does not look like one
        numeric = pc.match_substring_regex(masked, _NUMBER_RE)
        masked = pc.if_else(numeric, masked, pa.scalar(None, masked.type))
        try:
            values = pc.cast(masked, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            series = pd.Series(masked.to_numpy(zero_copy_only=False), dtype=object)
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    bad = ~empty & ~np.isfinite(values)
    values = np.where(bad, np.nan, values)
    return values, empty, bad


def parse_timestamps(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse ISO 8601 date-time text to seconds since the Unix epoch.

    Text without a UTC offset (``2020-04-01 00:00:00``) is taken as UTC wall-clock; text with
    one (``2023-03-01 00:18:22+08:00``) is converted to UTC.  Returns (seconds with NaN where
    unusable, empty mask, unparsable mask).  Impossible dates (``2020-04-31``) are unparsable.
    """
    trimmed = text(arr)
    empty = np_bool(pc.equal(trimmed, ""))
    masked = pc.if_else(pa.array(empty), pa.scalar(None, trimmed.type), trimmed)
    values: np.ndarray | None = None
    kinds = [pa.timestamp("us"), pa.timestamp("us", tz="UTC")]
    present = np.flatnonzero(~empty)
    if len(present) and _OFFSET.search(str(trimmed[int(present[0])].as_py())):
        kinds.reverse()  # a failing cast is slow: try the likely kind first
    for kind in kinds:
        try:
            stamps = pc.cast(masked, kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        micros = pc.cast(stamps, pa.int64()).to_numpy(zero_copy_only=False)
        values = np.asarray(micros, dtype=np.float64) / 1e6
        break
    if values is None:  # mixed or broken values: the slower, forgiving parser
        series = pd.Series(masked.to_numpy(zero_copy_only=False), dtype=object)
        parsed = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
        seconds = (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
        values = seconds.to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.where(empty, np.nan, values)
    bad = ~empty & np.isnan(values)
    return values, empty, bad


def np_bool(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean arrow array as numpy, null as False."""
    if arr.null_count:
        arr = pc.fill_null(arr, False)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


# --------------------------------------------------------------------------- rejections


class RowSet:
    """Candidate job rows: physical line numbers, raw text, and each row's first rejection."""

    def __init__(self, lines: np.ndarray, raw: pa.Array | Sequence[str]):
        self.line = np.asarray(lines, dtype=np.int64)
        self._raw = raw
        self._code = np.zeros(len(self.line), dtype=np.int32)
        self._reasons: list[str] = [""]

    def __len__(self) -> int:
        return len(self.line)

    def select(self, mask: np.ndarray) -> RowSet:
        """A new RowSet of the rows in ``mask``, keeping their rejections."""
        idx = np.flatnonzero(mask)
        if isinstance(self._raw, pa.Array | pa.ChunkedArray):
            raw: pa.Array | Sequence[str] = pc.take(self._raw, pa.array(idx, pa.int64()))
        else:
            raw = [self._raw[i] for i in idx]
        out = RowSet(self.line[idx], raw)
        out._code = self._code[idx].copy()
        out._reasons = list(self._reasons)
        return out

    def reject(self, mask: np.ndarray, reason: str) -> None:
        """Flag rows in ``mask`` with ``reason`` unless they already carry a reason."""
        mask = np.asarray(mask, dtype=bool)
        target = mask & (self._code == 0)
        if not target.any():
            return
        if reason not in self._reasons:
            self._reasons.append(reason)
        self._code[target] = self._reasons.index(reason)

    @property
    def raw(self) -> pa.Array | Sequence[str]:
        """Each row's text, as read."""
        return self._raw

    def rejected_for(self, reason: str) -> np.ndarray:
        """Mask of rows whose (first) rejection is ``reason``."""
        if reason not in self._reasons:
            return np.zeros(len(self), dtype=bool)
        return self._code == self._reasons.index(reason)

    @property
    def ok(self) -> np.ndarray:
        return self._code == 0

    def first(self) -> tuple[int, str] | None:
        """(line, reason) of the earliest rejected row, or None."""
        bad = np.flatnonzero(self._code != 0)
        if len(bad) == 0:
            return None
        i = bad[np.argmin(self.line[bad])]
        return int(self.line[i]), self._reasons[self._code[i]]

    def frame(self) -> pd.DataFrame:
        bad = np.flatnonzero(self._code != 0)
        if isinstance(self._raw, pa.Array | pa.ChunkedArray):
            raw = pc.take(self._raw, pa.array(bad, pa.int64())).to_pylist()
        else:
            raw = [self._raw[i] for i in bad]
        reasons = np.array(self._reasons, dtype=object)[self._code[bad]]
        return rejected_frame(self.line[bad], reasons, raw)


def rejected_frame(
    lines: Sequence[int], reasons: Sequence[str], raws: Sequence[str]
) -> pd.DataFrame:
    """The ``rejected`` table, sorted by line."""
    df = pd.DataFrame(
        {
            "line": pd.Series(np.asarray(lines, dtype=np.int64), dtype="int64"),
            "reason": pd.Series(list(reasons), dtype="str"),
            "raw": pd.Series([(r or "")[:RAW_LIMIT] for r in raws], dtype="str"),
        }
    )
    return df.sort_values("line", kind="stable").reset_index(drop=True)


def check_numeric(
    rows: RowSet, name: str, parsed: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    """Reject empty (``missing <name>``) and unparsable (``non-numeric <name>``) values."""
    values, empty, bad = parsed
    rows.reject(empty, f"missing {name}")
    rows.reject(bad, f"non-numeric {name}")
    return values


def check_gpus(rows: RowSet, gpus: np.ndarray, zero_reason: str) -> np.ndarray:
    """Reject non-integer, negative and zero GPU counts; return int64 counts (0 where bad)."""
    finite = np.isfinite(gpus)
    rows.reject(finite & (gpus < 0), "negative num_gpus")
    rows.reject(finite & (gpus != np.floor(gpus)), "non-integer num_gpus")
    rows.reject(finite & (gpus == 0), zero_reason)
    return np.where(finite & (gpus > 0), np.floor(gpus), 0).astype(np.int64)


def check_duplicates(rows: RowSet, job_id: pa.Array | np.ndarray | Sequence[str]) -> None:
    """Reject later occurrences of a job_id (the first occurrence in file order is kept)."""
    n = len(rows)
    if n < 2:
        return
    if isinstance(job_id, pa.Array) and (np.diff(rows.line) > 0).all():
        idx = pc.sort_indices(job_id).to_numpy()  # stable: equal ids stay in line order
        ordered = pc.take(job_id, pa.array(idx))
        same = np_bool(pc.equal(ordered.slice(1), ordered.slice(0, n - 1)))
        dup = np.zeros(n, dtype=bool)
        dup[idx[1:][same]] = True
    else:
        ids = _series(job_id)
        order = np.argsort(rows.line, kind="stable")
        dup = np.zeros(n, dtype=bool)
        dup[order] = ids.iloc[order].duplicated(keep="first").to_numpy()
    rows.reject(dup, "duplicate job_id")


def _series(values: pa.Array | pa.ChunkedArray | np.ndarray | Sequence[str]) -> pd.Series:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return pd.Series(values.to_pandas(), copy=False)
    return pd.Series(np.asarray(values, dtype=object), dtype=object)


# --------------------------------------------------------------------------- native table


def build_trace(
    fmt: str,
    source: str,
    rows: RowSet,
    *,
    job_id: pa.Array | np.ndarray | Sequence[str],
    submit_s: np.ndarray,
    num_gpus: np.ndarray,
    duration_s: np.ndarray,
    job_class: pa.Array | np.ndarray | Sequence[str] | str,
    user: pa.Array | np.ndarray | Sequence[str] | str,
    recorded_start_s: np.ndarray | None,
    strict: bool,
    notes: Sequence[str] = (),
) -> AdaptedTrace:
    """Shift, sort and type the accepted rows; raise on the first rejection when ``strict``."""
    if strict:
        first = rows.first()
        if first is not None:
            raise TraceError(source, first[1], line=first[0])
    keep = np.flatnonzero(rows.ok)
    n = len(rows)
    ids = _str_column(job_id, keep, n, "")
    submit = np.asarray(submit_s, dtype=np.float64)[keep]
    start = (
        np.full(len(keep), np.nan)
        if recorded_start_s is None
        else np.asarray(recorded_start_s, dtype=np.float64)[keep]
    )
    shift = float(submit.min()) if len(submit) else 0.0
    submit = submit - shift
    start = start - shift
    order = sort_order(submit, ids)
    take = pa.array(order, pa.int64())
    jobs = pd.DataFrame(
        {
            "job_id": _str_series(ids, take),
            "submit_s": pd.Series(submit[order], dtype="float64"),
            "num_gpus": pd.Series(np.asarray(num_gpus)[keep][order], dtype="int64"),
            "duration_s": pd.Series(
                np.asarray(duration_s, dtype=np.float64)[keep][order], dtype="float64"
            ),
            "job_class": _str_series(_str_column(job_class, keep, n, DEFAULT_CLASS), take),
            "user": _str_series(_str_column(user, keep, n, ""), take),
            "recorded_start_s": pd.Series(start[order], dtype="float64"),
        },
        columns=list(NATIVE_COLUMNS),
    )
    rejected = rows.frame()
    summary = f"{len(jobs)} jobs read, {len(rejected)} rows rejected"
    if len(jobs) and shift != 0.0:
        amount = f"{-shift:+.3f}".rstrip("0").rstrip(".")
        summary += f"; times shifted by {amount} s so the first job submits at 0"
    all_notes = [summary, *notes]
    if len(rejected):
        counts = rejected["reason"].value_counts()
        all_notes.append(
            "rejected: " + ", ".join(f"{reason} ({count})" for reason, count in counts.items())
        )
    return AdaptedTrace(jobs, rejected, fmt, source, tuple(all_notes))


def _str_column(
    values: pa.Array | np.ndarray | Sequence[str] | str, keep: np.ndarray, n: int, default: str
) -> pa.Array:
    """Trimmed text of the kept rows; empty or missing values become ``default``."""
    if isinstance(values, str):
        return pa.repeat(pa.scalar(values.strip() or default, pa.large_string()), len(keep))
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        values = pa.array(np.asarray(values, dtype=object), pa.large_string(), from_pandas=True)
    if not pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.large_string())
    if len(values) != n:
        raise ValueError(f"column has {len(values)} values for {n} rows")
    values = pc.take(values, pa.array(keep, pa.int64()))
    trimmed = text(values)
    if default:
        trimmed = pc.if_else(pc.equal(trimmed, ""), default, trimmed)
    return trimmed


def _str_series(values: pa.Array, order: pa.Array) -> pd.Series:
    return pd.Series(pc.take(values, order).to_pandas(), dtype="str")


def sort_order(submit: np.ndarray, ids: pa.Array) -> np.ndarray:
    """Indices ordering rows by (submit, job_id); ids are only compared among equal submits."""
    order = np.argsort(submit, kind="stable")
    if len(order) < 2:
        return order
    ordered = submit[order]
    tie = np.zeros(len(order), dtype=bool)
    same = ordered[1:] == ordered[:-1]
    tie[1:] |= same
    tie[:-1] |= same
    pos = np.flatnonzero(tie)
    if len(pos):
        sub = order[pos]
        sub_ids = pc.take(ids, pa.array(sub, pa.int64())).to_numpy(zero_copy_only=False)
        order[pos] = sub[np.lexsort((sub_ids.astype(str), submit[sub]))]
    return order


# --------------------------------------------------------------------------- date-time traces


@dataclass
class TimedJobs:
    """Columns of a trace whose times are date strings (Helios, Acme)."""

    job_id: pa.Array
    submit: np.ndarray
    start: np.ndarray
    duration: np.ndarray
    num_gpus: np.ndarray
    notes: list[str]


def timed_jobs(table: Table, *, end_columns: Sequence[str]) -> TimedJobs:
    """Validate ``job_id, gpu_num, submit_time, start_time`` and the first non-empty of
    ``end_columns`` (a job's end); duration = end - start.

    Rejections: ``missing job_id``, ``missing``/``bad submit time``, ``bad start time``,
    ``bad end time``, ``missing``/``non-numeric num_gpus``, ``cpu-only job`` (0 GPUs),
    ``no start time``, ``no end time``, ``negative duration``, ``duplicate job_id``.
    """
    rows, cols = table.rows, table.columns
    rows.reject(is_empty(cols["job_id"]), "missing job_id")
    submit, submit_empty, submit_bad = parse_timestamps(cols["submit_time"])
    rows.reject(submit_empty, "missing submit time")
    rows.reject(submit_bad, "bad submit time")
    gpus = check_numeric(rows, "num_gpus", parse_numbers(cols["gpu_num"]))
    start, start_empty, start_bad = parse_timestamps(cols["start_time"])
    rows.reject(start_bad, "bad start time")
    end = np.full(len(rows), np.nan)
    fallback = np.zeros(len(rows), dtype=bool)
    notes: list[str] = []
    for i, name in enumerate(c for c in end_columns if c in cols):
        values, empty, bad = parse_timestamps(cols[name])
        rows.reject(np.isnan(end) & bad, f"bad {name.replace('_', ' ')}")
        fill = np.isnan(end) & ~empty & ~bad
        if i > 0:
            fallback |= fill
        end = np.where(fill, values, end)
    rows.reject(np.isfinite(gpus) & (gpus == 0), "cpu-only job")
    rows.reject(start_empty, "no start time")
    rows.reject(np.isnan(end), "no end time")
    duration = end - start
    rows.reject(duration < 0, "negative duration")
    num_gpus = check_gpus(rows, gpus, "cpu-only job")
    job_id = text(cols["job_id"])
    check_duplicates(rows, job_id)
    used = rows.ok & fallback
    if used.any():
        others = " or ".join(c for c in end_columns[1:] if c in cols)
        notes.append(
            f"end taken from {others} where {end_columns[0]} is empty: {int(used.sum())} rows"
        )
    return TimedJobs(job_id, submit, start, duration, num_gpus, notes)


def cluster_log_files(folder: Path, pattern: str) -> dict[str, Path]:
    """Map cluster name to file for ``pattern`` (a glob with one ``*`` for the name)."""
    found: dict[str, Path] = {}
    prefix, _, suffix = pattern.partition("*")
    for p in sorted(folder.glob(pattern)):
        if p.is_file():
            rel = p.relative_to(folder).as_posix()
            found[rel[len(prefix) : len(rel) - len(suffix)]] = p
    return found


def build_timed_trace(
    name: str,
    source: str,
    table: Table,
    timed: TimedJobs,
    *,
    class_column: str,
    strict: bool,
    notes: Sequence[str] = (),
) -> AdaptedTrace:
    """The native table of a trace with submit/start/end columns (Helios, Acme): job class
    from ``class_column`` and user from ``user`` when the trace has them."""
    cols = table.columns
    return build_trace(
        name,
        source,
        table.rows,
        job_id=timed.job_id,
        submit_s=timed.submit,
        num_gpus=timed.num_gpus,
        duration_s=timed.duration,
        job_class=text(cols[class_column]) if class_column in cols else DEFAULT_CLASS,
        user=text(cols["user"]) if "user" in cols else "",
        recorded_start_s=np.asarray(timed.start),
        strict=strict,
        notes=[*table.notes, *notes, *timed.notes],
    )
