"""Strict scalars for the scenario models: a field reads only the kind of value it means.

pydantic's lax mode reads ``true`` as 1 node, the text ``"16"`` as 16 and ``1`` as ``true``;
the YAML reader (:mod:`.yaml_reader`) leaves ``0x10``, ``010`` and ``yes`` as text. This check,
run by :class:`~clustersim.config.base.Frozen` before each model validates, refuses them with a
message saying what was expected:

- a whole-number field (``int``) takes a whole number, not ``true``/``false`` nor text;
- a number field (``float``) takes a number, not ``true``/``false`` nor text;
- a yes/no field (``bool``) takes ``true`` or ``false`` only;
- the same for the items of a list, and the keys and values of a mapping, of such scalars.

Fields with a validator of their own that reads text (durations such as ``2h``, growth rates
such as ``40%/yr``, shares such as ``10%``, shorthands) are left to it, except that
``true``/``false`` is never read as a number. Keys of a mapping with whole-number keys may
be decimal text (``"8"``): that is how JSON writes them.
"""

from __future__ import annotations

import re
import types
from typing import Any, Union, get_args, get_origin

from pydantic.functional_validators import BeforeValidator, PlainValidator, WrapValidator

_SCALARS = {int: "int", float: "float", bool: "bool"}
_EXPECTED = {"int": "a valid integer (a whole number)", "float": "a valid number", "bool": "true or false"}
_NOT_DECIMAL = re.compile(r"^[-+]?0[xXoObB]|^[-+]?0[0-9]")
_DECIMAL_KEY = re.compile(r"^(0|[1-9][0-9]*)$")
_CACHE: dict[type, dict[str, tuple]] = {}


def _kind(annotation: Any) -> str | None:
    """'int', 'float' or 'bool' for a scalar (or optional scalar) annotation, else None."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            return None
        annotation = args[0]
    return _SCALARS.get(annotation)


def _shape(annotation: Any) -> tuple | None:
    """How to check a field: ('scalar', kind), ('list', kind), ('dict', key kind, value kind)."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            return None
        annotation = args[0]
    kind = _kind(annotation)
    if kind is not None:
        return ("scalar", kind)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (list, tuple) and args and args[-1] is not Ellipsis and len(set(args)) == 1:
        item = _kind(args[0])
        return ("list", item) if item else None
    if origin in (list, tuple) and len(args) == 2 and args[1] is Ellipsis:
        item = _kind(args[0])
        return ("list", item) if item else None
    if origin is dict and len(args) == 2:
        key, value = _kind(args[0]), _kind(args[1])
        return ("dict", key, value) if key or value else None
    return None


def _fields(cls: type) -> dict[str, tuple]:
    """Input key (name and alias) -> (field name, shape, has own before-validator)."""
    found = _CACHE.get(cls)
    if found is not None:
        return found
    own_before: set[str] = set()
    decorators = getattr(cls, "__pydantic_decorators__", None)
    if decorators is not None:
        for dec in decorators.field_validators.values():
            if dec.info.mode in ("before", "wrap", "plain"):
                own_before.update(dec.info.fields)
    found = {}
    for name, field in cls.model_fields.items():
        shape = _shape(field.annotation)
        if shape is None:
            continue
        custom = name in own_before or any(
            isinstance(m, BeforeValidator | WrapValidator | PlainValidator) for m in field.metadata
        )
        for key in {name, field.alias or name}:
            found[key] = (name, shape, custom)
    _CACHE[cls] = found
    return found


def scalar_problem(kind: str, value: Any, *, key: bool = False) -> str | None:
    """Why ``value`` cannot be read as ``kind`` ('int', 'float', 'bool'), or None if it can
    (or if pydantic's own check will say what is wrong)."""
    if kind == "bool":
        if isinstance(value, bool):
            return None
        return f"expected true or false, got {_show(value)}" + (" (text)" if isinstance(value, str) else "")
    if isinstance(value, bool):
        return f"expected {_EXPECTED[kind]}, got {_show(value)} (a yes/no value)"
    if isinstance(value, str):
        text = value.strip()
        if key and kind == "int" and _DECIMAL_KEY.match(text):
            return None
        if _NOT_DECIMAL.match(text):
            return (
                f"expected {_EXPECTED[kind]} written in decimal, got {value!r} (hexadecimal, octal, "
                "binary and leading zeros are not read)"
            )
        return f"expected {_EXPECTED[kind]}, got the text {value!r}"
    return None


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def check_scalars(cls: type, data: Any) -> tuple[str, str] | None:
    """(field path, problem) for the first scalar of the wrong kind in ``data``, or None."""
    if not isinstance(data, dict):
        return None
    fields = _fields(cls)
    for key, value in data.items():
        spec = fields.get(key) if isinstance(key, str) else None
        if spec is None or value is None:
            continue
        _name, shape, custom = spec
        if shape[0] == "scalar":
            if custom:  # its own validator reads text; a yes/no value is never a number
                if isinstance(value, bool) and shape[1] != "bool":
                    return key, f"got {_show(value)}: a yes/no value is not a number"
                continue
            problem = scalar_problem(shape[1], value)
            if problem:
                return key, problem
        elif shape[0] == "list" and isinstance(value, list | tuple):
            for i, item in enumerate(value):
                problem = scalar_problem(shape[1], item)
                if problem:
                    return f"{key}[{i}]", problem
        elif shape[0] == "dict" and isinstance(value, dict):
            key_kind, value_kind = shape[1], shape[2]
            for k, v in value.items():
                problem = key_kind and scalar_problem(key_kind, k, key=True)
                if problem:
                    return key, f"key {_show(k)}: {problem}"
                problem = value_kind and scalar_problem(value_kind, v)
                if problem:
                    return f"{key}.{k}", problem
    return None
