"""The YAML reader of scenario files and ``--set`` values (used by :mod:`.loading` only).

A safe loader (no ``!!python/...`` objects) that reads plain scalars the YAML 1.2 way, so
that a value means what it looks like:

- ``true`` / ``false`` are booleans; ``yes``, ``no``, ``on``, ``off`` stay text;
- whole numbers are decimal: ``16`` is a number, ``0x10``, ``0o20``, ``010``, ``1_000`` and
  ``1:30`` stay text (a count field then refuses them, a name keeps them as written);
- ``1e3``, ``2.5``, ``.5`` are numbers; ``.inf`` and ``.nan`` are read, and refused by the
  scenario models;
- dates (``2023-10-17``) are dates, and an impossible one (``2023-02-30``) is an error.

Also refused, each as a :class:`YamlProblem` naming the line and column: a key given twice in
one mapping, nesting deeper than :data:`MAX_DEPTH`, more than :data:`MAX_NODES` values once
aliases are expanded, text that is not UTF-8, and anything PyYAML itself cannot parse.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_DEPTH = 64  # levels of nesting
MAX_NODES = 1_000_000  # values, counting each use of an alias

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_FLOAT = re.compile(
    r"^[-+]?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+)$"
    r"|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"
)
_TAG = "tag:yaml.org,2002:"
_REPLACED = {_TAG + "bool", _TAG + "int", _TAG + "float"}


class YamlProblem(ValueError):
    """Text that is not an acceptable YAML document: ``where`` (``line L, column C`` or empty)
    and ``problem`` (what is wrong)."""

    def __init__(self, where: str, problem: str):
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}" if where else problem)


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML this reader refuses (a key twice, too deep, a value that cannot exist)."""


class _Loader(yaml.SafeLoader):
    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in _REPLACED]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML's hook
        depth = getattr(self, "_depth", 0)
        if depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise _Refused(None, None, f"nested more than {MAX_DEPTH} levels deep", mark)
        self._depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            seen: dict[Any, Node] = {}
            for key_node, _value in node.value:
                if key_node.tag == _TAG + "merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    raise _Refused(None, None, "a key cannot be a list or a mapping", key_node.start_mark) from None
                if first is not None:
                    raise _Refused(
                        None, None, f"key {key!r} is given twice (first on line {first.start_mark.line + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(_TAG + "bool", _BOOL, list("tTfF"))
_Loader.add_implicit_resolver(_TAG + "int", _INT, list("-+0123456789"))
_Loader.add_implicit_resolver(_TAG + "float", _FLOAT, list("-+0123456789."))


def _guarded(construct):
    """A scalar constructor whose ValueError (a date that does not exist, a number too long to
    read) becomes a YAML error at the value's position."""

    def wrapper(loader, node):
        try:
            return construct(loader, node)
        except (ValueError, OverflowError) as err:
            raise _Refused(None, None, f"cannot read {node.value!r}: {err}", node.start_mark) from None

    return wrapper


for _tag in ("int", "float", "timestamp", "binary"):
    _Loader.add_constructor(_TAG + _tag, _guarded(yaml.SafeLoader.yaml_constructors[_TAG + _tag]))


def _expanded_size(root: Node) -> int:
    """How many values the document holds once every alias is expanded (memoised per node)."""
    sizes: dict[int, int] = {}
    order: list[Node] = []
    todo = [root]
    while todo:  # children before parents, each node once
        node = todo.pop()
        if id(node) in sizes:
            continue
        sizes[id(node)] = -1
        order.append(node)
        if isinstance(node, SequenceNode):
            todo.extend(node.value)
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                todo.extend((k, v))
    for node in reversed(order):
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(sizes[id(c)] for c in node.value)
        elif isinstance(node, MappingNode):
            size += sum(sizes[id(k)] + sizes[id(v)] for k, v in node.value)
        sizes[id(node)] = min(size, MAX_NODES + 1)
    return sizes[id(root)]


def decode(data: bytes) -> str:
    """UTF-8 text (a byte-order mark dropped), or YamlProblem naming the line."""
    for bom, name in ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                      (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16")):
        if data.startswith(bom):
            raise YamlProblem("", f"the file is {name} text; save it as UTF-8")
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        byte = data[err.start : err.start + 1].hex()
        raise YamlProblem(f"line {line}", f"not UTF-8 text (byte 0x{byte}); save the file as UTF-8") from None


def load(text: str) -> Any:
    """One YAML document as plain data (dicts, lists, str, int, float, bool, None, dates)."""
    loader = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
        if root is None:
            return None
        if _expanded_size(root) > MAX_NODES:
            raise YamlProblem("", f"more than {MAX_NODES:,} values once aliases are expanded")
        return loader.construct_document(root)
    except yaml.YAMLError as err:
        raise YamlProblem(*_describe(err, text)) from None
    except RecursionError:
        raise YamlProblem("", f"nested too deeply (at most {MAX_DEPTH} levels)") from None
    finally:
        if loader is not None:
            loader.dispose()


def _describe(err: yaml.YAMLError, text: str) -> tuple[str, str]:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(err, "problem", None)
    if isinstance(err, yaml.reader.ReaderError):
        char = err.character
        shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        problem = f"the character {shown} cannot appear in a YAML file (a binary or wrongly encoded file?)"
        where = f"line {text[: err.position].count(chr(10)) + 1}"
    if problem is None:
        problem = str(err)
    problem = " ".join(str(problem).split())
    if "could not determine a constructor for the tag" in problem:
        tag = problem.rsplit(" ", 1)[-1].replace("tag:yaml.org,2002:", "!!")
        return where, f"the tag {tag} is not read: a scenario holds plain values only (no !!python/... objects)"
    if isinstance(err, _Refused):
        return where, problem
    return where, f"not valid YAML ({problem})"
