"""Delimited text into rows and named string columns, with exact physical line numbers.

:func:`load_table` splits a file into physical lines once (so line numbers are exact by
construction), skips blank and comment lines, then splits fields: a fast pyarrow CSV read
when the body is regular, otherwise an exact per-line split that rejects rows with the wrong
number of fields.  The result is a :class:`Table` (a :class:`RowSet` plus its columns).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from clustersim.errors import TraceError
from clustersim.workload.adapters.parsing import np_bool
from clustersim.workload.adapters.rejections import RowSet


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
        fields = csv_fields(line, sep)
        if fields is None or len(fields) != width:
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
    try:  # a row with another field count raises ArrowInvalid: the exact path takes over
        table = pcsv.read_csv(
            pa.BufferReader(_arrow_owned(data)),
            read_options=pcsv.ReadOptions(skip_rows=skip, column_names=names),
            parse_options=pcsv.ParseOptions(delimiter=sep, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(
                column_types={names[i]: pa.large_string() for i in wanted},
                include_columns=[names[i] for i in wanted],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != expected:
        return None
    return {i: table.column(names[i]).combine_chunks() for i in wanted}


def _arrow_owned(data: bytes) -> pa.Buffer:
    """A copy of ``data`` in Arrow's memory, for the threaded CSV reader.

    The reader may drop its input (and anything else it holds) on one of Arrow's worker
    threads after ``read_csv`` has returned. Releasing a buffer that wraps a Python object
    (or a Python callback) there takes the GIL; when the interpreter is exiting by then, that
    thread is torn down mid-release and the process aborts ("terminate called without an
    active exception", exit code 134) after the command itself has finished. Nothing here
    holds a Python object, so nothing needs the GIL to be released.
    """
    buf = pa.allocate_buffer(len(data))
    if len(data):
        np.frombuffer(buf, dtype=np.uint8)[:] = np.frombuffer(data, dtype=np.uint8)
    return buf


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


def csv_fields(line: str, sep: str) -> list[str] | None:
    """The fields of one CSV line, or None when it cannot be split (a stray carriage return
    or a field past the csv module's size limit)."""
    try:
        return next(csv.reader([line], delimiter=sep), [])
    except csv.Error:
        return None


def parse_header(line: str, sep: str = ",") -> list[str]:
    """Header field names, stripped of whitespace and quotes."""
    fields = csv_fields(line, sep)
    if fields is None:
        fields = line.split(sep)
    return [f.strip().strip('"').strip() for f in fields]


def require_columns(source: str, header: Sequence[str], required: Iterable[str]) -> None:
    """TraceError naming the first missing column and listing those found."""
    for name in required:
        if name not in header:
            found = ", ".join(h[:40] for h in header[:30] if h) or "nothing"
            if len(header) > 30:
                found += f", ... ({len(header)} in all)"
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
