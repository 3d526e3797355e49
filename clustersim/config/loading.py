"""Loading scenarios: YAML files, ``--set`` overrides, validation with one line per problem.

This is the only module that reads YAML (through :mod:`.yaml_reader`: UTF-8, no key twice,
YAML 1.2 scalars, no tags). ``load_scenario(path, overrides)`` reads the file, applies
``dotted.key=value`` overrides (list items by index: ``workload.classes[0].duration``; each
value read by the same reader), resolves relative file paths against the scenario's folder,
validates, and turns every problem into one line naming the file and the field (or the line
of the file), raised as one ``ScenarioError``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clustersim.config.base import split_field_tag
from clustersim.config.scenario import Scenario
from clustersim.errors import ScenarioError

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _split_key(key: str) -> list[str | int]:
    parts: list[str | int] = []
    pos = 0
    key = key.strip()
    while pos < len(key):
        if key[pos] == "." and parts:
            pos += 1
        m = _TOKEN.match(key, pos)
        if m is None:
            raise ValueError(f"cannot parse key {key!r} at position {pos}")
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not parts:
        raise ValueError("empty key")
    return parts


def parse_value(raw: str) -> Any:
    """A ``--set`` value: YAML, read as a scenario file is (see :mod:`.yaml_reader`)."""
    from clustersim.config import yaml_reader

    if not raw.strip():
        return ""
    try:
        return yaml_reader.load(raw)
    except yaml_reader.YamlProblem as err:
        where = f" at {err.where} of the value" if err.where and "\n" in raw.strip() else ""
        raise ValueError(f"{err.problem}{where}") from None


def apply_override(data: dict, assignment: str) -> None:
    """Apply ``a.b[0].c=value`` to a nested dict in place; the value is parsed as YAML."""
    if "=" not in assignment:
        raise ValueError(f"expected key=value, got {assignment!r}")
    key, _, raw = assignment.partition("=")
    parts = _split_key(key)
    try:
        value = parse_value(raw)
    except ValueError as err:
        raise ValueError(f"{key.strip()}={raw}: {err}") from None
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise ValueError(f"{key}: no list item [{part}] here")
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise ValueError(f"{key}: {part!r} is not inside a mapping")
            if node.get(part) is None:
                if isinstance(nxt, int):
                    raise ValueError(f"{key}: {part!r} is not a list")
                node[part] = {}
            elif isinstance(node[part], str) and not isinstance(nxt, int):
                node[part] = {"kind": node[part]}  # expand shorthand like `policy: fifo`
            node = node[part]
    last = parts[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise ValueError(f"{key}: no list item [{last}] here")
        node[last] = value
    else:
        if not isinstance(node, dict):
            raise ValueError(f"{key}: {last!r} is not inside a mapping")
        node[last] = value


def _union_tags() -> frozenset[str]:
    """Every ``kind`` value of a config model: pydantic puts the tag of a discriminated
    union into an error's location, but it is not a field the user wrote."""
    from typing import get_args

    from pydantic import BaseModel

    tags: set[str] = set()
    todo = list(BaseModel.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("clustersim.") and "kind" in getattr(cls, "model_fields", {}):
            tags.update(a for a in get_args(cls.model_fields["kind"].annotation) if isinstance(a, str))
    return frozenset(tags)


def _loc(loc: tuple) -> str:
    tags = _union_tags()
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in tags:
            continue  # pydantic's union tag, not a field the user wrote
        elif part.startswith(("function-", "literal[")) or part in ("str", "int", "float", "date"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _service_name(data: Any, loc: tuple) -> str | None:
    """The name of the service an error under ``services[i]`` is about, if it has one."""
    if len(loc) >= 2 and loc[0] == "services" and isinstance(loc[1], int) and isinstance(data, dict):
        services = data.get("services")
        if isinstance(services, list) and 0 <= loc[1] < len(services) and isinstance(services[loc[1]], dict):
            name = services[loc[1]].get("name")
            return name if isinstance(name, str) else None
    return None


def render_validation_error(err: ValidationError, data: Any = None) -> list[str]:
    """One line per problem, ``path.to.field: what was wrong``; a problem in a service
    (``data``: the mapping validated) names the service."""
    problems = []
    for item in err.errors():
        where = _loc(item["loc"])
        msg = item["msg"]
        msg = msg.removeprefix("Value error, ")
        path, msg = split_field_tag(msg)
        if path is not None:  # a check across fields names the field it is about
            where = path if where == "(top level)" else f"{where}.{path}"
        if item["type"] == "extra_forbidden":
            msg = "unknown key (not part of the scenario format; see `clustersim schema`)"
        elif item["type"] == "missing":
            msg = "required field is missing"
        elif item["type"] == "union_tag_invalid":
            ctx = item.get("ctx", {})
            msg = f"unknown kind {ctx.get('tag')!r}; expected one of: {ctx.get('expected_tags')}"
        given = item.get("input")
        if (
            item["type"] not in ("missing", "extra_forbidden", "union_tag_invalid")
            and path is None
            and "got" not in msg
            and not isinstance(given, dict | list)
        ):
            msg += f" (got {_short(given)})"
        name = _service_name(data, item["loc"])
        if name is not None and not msg.startswith("service "):
            msg = f"service {name!r}: {msg}"
        if any(p.startswith(f"{where}: ") for p in problems):
            continue  # another branch of the same union failed too: the first says enough
        problems.append(f"{where}: {msg}")
    return problems


def scenario_from_dict(data: Any, *, source: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate a plain mapping into a Scenario, raising ScenarioError with one line per field."""
    if not isinstance(data, dict):
        raise ScenarioError(source, [f"(top level): expected a mapping of keys, got {_kind_of(data)}"])
    try:
        return Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as err:
        raise ScenarioError(source, render_validation_error(err, data)) from None
    except RecursionError:
        raise ScenarioError(source, ["(top level): nested too deeply"]) from None
    except ArithmeticError as err:  # a check's arithmetic overflowed: some number is far too large
        raise ScenarioError(source, [f"(top level): a number is too large to work with ({err})"]) from None


MAX_SCENARIO_BYTES = 16 << 20


def read_scenario_dict(path: str | Path) -> dict:
    """Read a scenario YAML file into a plain dict (no validation): UTF-8 text, one YAML
    document of plain values, no key twice in a mapping (see :mod:`.yaml_reader`)."""
    from clustersim.config import yaml_reader

    path = Path(path)
    try:
        if path.is_dir():
            raise ScenarioError(str(path), ["is a directory; expected a scenario YAML file"])
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError(str(path), [f"larger than {MAX_SCENARIO_BYTES >> 20} MiB; expected a scenario YAML file"])
        text = yaml_reader.decode(path.read_bytes())
        data = yaml_reader.load(text)
    except FileNotFoundError:
        raise ScenarioError(str(path), ["file not found"]) from None
    except OSError as err:
        raise ScenarioError(str(path), [f"cannot read: {err.strerror or err}"]) from None
    except yaml_reader.YamlProblem as err:
        raise ScenarioError(str(path), [f"{err.where}: {err.problem}" if err.where else err.problem]) from None
    if data is None:
        raise ScenarioError(str(path), ["(top level): the file is empty"])
    if not isinstance(data, dict):
        raise ScenarioError(
            str(path), [f"(top level): expected a mapping of keys (name: ..., horizon: ...), got {_kind_of(data)}"]
        )
    return data


def _kind_of(value: Any) -> str:
    return {list: "a list", str: "text", bool: "a yes/no value", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Scenario:
    """Read, override, resolve and validate a scenario file."""
    path = Path(path)
    data = read_scenario_dict(path)
    source = str(path)
    if overrides:  # a bad value may come from the command line rather than the file
        source += " with --set " + " ".join(overrides)
    return scenario_with_overrides(data, overrides, source=source, base_dir=path.parent)


def scenario_with_overrides(
    data: dict, overrides: list[str] | tuple[str, ...] = (), *, source: str, base_dir: Path | None
) -> Scenario:
    import copy

    data = copy.deepcopy(data)
    problems = apply_overrides(data, overrides)
    if problems:
        raise ScenarioError(source, problems)
    return scenario_from_dict(data, source=source, base_dir=base_dir)


def apply_overrides(data: dict, overrides: list[str] | tuple[str, ...]) -> list[str]:
    """Apply each ``--set`` assignment to ``data`` in place; one line per one that failed."""
    problems = []
    for assignment in overrides:
        try:
            apply_override(data, assignment)
        except ValueError as err:
            problems.append(f"--set {err}")
    return problems


def scenario_json_schema() -> dict:
    return Scenario.model_json_schema()
