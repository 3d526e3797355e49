"""The report's markdown subset rendered as one self-contained HTML page.

Understood: headings, paragraphs, pipe tables, ``- `` lists, ``> `` quotes, images on a line
of their own (embedded as base64), ``**bold**``, ``*italic*``, `` `code` ``, backslash
escapes, and ``<!-- class: NAME -->`` to style the next block.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from clustersim.errors import ClusterSimError

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1000px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.8em;margin-bottom:.3em}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:1em 0;font-size:.95em}
th,td{padding:.35em .7em;border-bottom:1px solid #e3e3e3;text-align:left}
th{background:#f4f6f8}
.r{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
img{max-width:100%;height:auto;display:block;margin:1em 0}
blockquote{margin:1em 0;padding:.7em 1em;border-left:6px solid #888;background:#f5f5f5;
font-size:1.1em}
blockquote.met{border-color:#2ca02c;background:#edf7ed}
blockquote.not-met{border-color:#d62728;background:#fdeded}
code{background:#f2f2f2;padding:0 .25em;border-radius:3px}
""".strip()

_LITERAL = re.compile(r"`([^`]+)`|\\([\\`*_|\[\]<>#()!-])")


def _inline(text: str) -> str:
    """Markdown inline subset to HTML: escapes, `code`, **bold**, *italic*."""
    stash: list[str] = []

    def keep(fragment: str) -> str:
        stash.append(fragment)
        return f"\x00{len(stash) - 1}\x00"

    # One left-to-right pass, as in CommonMark: code spans are literal, escapes only outside.
    text = _LITERAL.sub(
        lambda m: keep(f"<code>{html.escape(m.group(1))}</code>" if m.group(1) is not None
                       else html.escape(m.group(2))),
        text,
    )
    text = html.escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"<em>\1</em>", text)
    return re.sub("\x00(\\d+)\x00", lambda m: stash[int(m.group(1))], text)


def _cells(row: str) -> list[str]:
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row)]


def _table(lines: list[str]) -> str:
    header, spec, body = _cells(lines[0]), _cells(lines[1]), [_cells(x) for x in lines[2:]]
    right = [s.endswith(":") and not s.startswith(":") for s in spec]

    def cells(values: list[str], tag: str) -> str:
        return "".join(
            f'<{tag}{" class=r" if i < len(right) and right[i] else ""}>{_inline(v)}</{tag}>'
            for i, v in enumerate(values)
        )

    rows = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in body)
    return f"<table><thead><tr>{cells(header, 'th')}</tr></thead><tbody>{rows}</tbody></table>"


def _image(alt: str, src: str, base: Path) -> str:
    path = base / src
    try:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError as exc:
        raise ClusterSimError(f"{path}: cannot embed figure ({exc.strerror or exc})") from None
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def markdown_to_html(markdown: str, base: Path, title_text: str) -> str:
    """Render the report's markdown subset to one HTML page; images under ``base`` are
    embedded as base64 data URIs, so the page needs nothing beside it."""
    out: list[str] = []
    block: list[str] = []
    kind = ""
    css: str | None = None

    def flush() -> None:
        nonlocal block, kind, css
        attr = f' class="{html.escape(css)}"' if css else ""
        if kind == "p":
            out.append(f"<p{attr}>{_inline(' '.join(block))}</p>")
        elif kind == "quote":
            out.append(f"<blockquote{attr}>{_inline(' '.join(block))}</blockquote>")
        elif kind == "list":
            out.append(f"<ul{attr}>" + "".join(f"<li>{_inline(x)}</li>" for x in block) + "</ul>")
        elif kind == "table":
            out.append(_table(block))
        if kind:
            css = None
        block, kind = [], ""

    for line in markdown.splitlines():
        stripped = line.strip()
        marker = re.fullmatch(r"<!--\s*class:\s*([\w-]+)\s*-->", stripped)
        image = re.fullmatch(r"!\[([^\]]*)\]\(([^)\s]+)\)", stripped)
        heading = re.fullmatch(r"(#{1,6})\s+(.*)", stripped)
        new_kind = ("table" if stripped.startswith("|") else "list" if stripped.startswith("- ")
                    else "quote" if stripped.startswith(">") else "p")
        if not stripped or marker or image or heading or new_kind != kind:
            flush()
        if marker:
            css = marker.group(1)
        elif image:
            out.append(_image(image.group(1), image.group(2), base))
        elif heading:
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif stripped:
            kind = new_kind
            block.append({"list": stripped[2:], "quote": stripped[1:].strip()}.get(kind, stripped))
    flush()
    body = "\n".join(out)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{html.escape(title_text)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n")
