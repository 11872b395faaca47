"""Every structured text ganzoo reads (JSON, YAML, TOML) is parsed here, within bounds.

Configs, safetensors headers and their metadata, checkpoint skeletons, cached baselines and the
JSON files of a run directory come from people and from disks that can be damaged or hostile.
A parser left to itself takes the last of two equal keys without a word, recurses until Python
gives up (``RecursionError``) on ten thousand nested brackets, expands a YAML "billion laughs"
into a billion values, and reads ``1e400`` as infinity and a 5000-digit integer as a number no
float or tensor can hold. Here each of those is refused in one ``GanzooError`` line that names
the input (``shown``, e.g. ``config file 'run.yaml'``), the problem and the fix:

- a key given twice in one table, in every format (with its line where the parser gives it);
- nesting deeper than ``max_depth`` lists and tables (a YAML alias counts as what it expands to);
- more than ``max_bytes`` of text; YAML aliases that expand past ``MAX_YAML_VALUES`` values or
  refer to the collection they are in;
- integers of ``MAX_INT`` or more in magnitude and floats too large to be finite (``1e400``);
  NaN and infinities written as such only where ``allow_nan`` says they can mean something.

YAML is read as YAML 1.2 core schema (``CoreSchemaLoader``): ``no``, ``off``, ``yes``, ``1:20``
and ``1_000`` stay strings, ``010`` is ten, and tags other than the core ones (timestamps,
binary, Python objects) are refused, so a document holds only strings, numbers, booleans, null,
lists and tables with string keys.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

import yaml

from ganzoo.errors import GanzooError
from ganzoo.io.inputs import TEXT_MAX_BYTES, format_size

MAX_DEPTH = 64
"""Lists and tables inside each other: a config is about four deep, a checkpoint skeleton ten."""
MAX_YAML_VALUES = 100_000
"""Values a YAML document may expand to through its aliases; a config holds a few hundred."""
MAX_INT = 2**64
"""Integers this large (in magnitude) are refused: no setting or state needs one, and they
overflow the floats and tensors they end up in."""

ErrorType = type[GanzooError]


class _Refused(Exception):
    """A rule a parser hook hit, turned into the caller's one-line error (with ``shown`` and ``fix``)."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(problem)
        self.problem, self.line = problem, line


def load_json(text: str | bytes, shown: str, *, error: ErrorType = GanzooError, fix: str = "fix the file",
              max_depth: int = MAX_DEPTH, max_bytes: int = TEXT_MAX_BYTES, allow_nan: bool = False) -> Any:
    """``text`` (UTF-8 when bytes) parsed as JSON, within the bounds of this module."""
    _check_size(text, shown, error, fix, max_bytes)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(_say(shown, f"is not UTF-8 text (byte 0x{text[exc.start]:02x} at offset {exc.start}), as "
                                    f"JSON must be{_then(fix)}")) from None
    try:
        value = json.loads(text, object_pairs_hook=_json_object, parse_int=_int, parse_float=_float,
                           parse_constant=_json_constant if allow_nan else _refuse_constant)
    except _Refused as refused:
        _raise(refused, shown, error, fix)
    except RecursionError:
        _raise(_too_deep(max_depth), shown, error, fix)
    except ValueError as exc:  # json.JSONDecodeError
        raise error(_say(shown, f"is not valid JSON: {_first_line(exc)}{_then(fix)}")) from None
    check_structure(value, shown, error=error, fix=fix, max_depth=max_depth)
    return value


def load_toml(text: str, shown: str, *, error: ErrorType = GanzooError, fix: str = "fix the file",
              max_depth: int = MAX_DEPTH, max_bytes: int = TEXT_MAX_BYTES) -> dict[str, Any]:
    """``text`` parsed as TOML (whose parser refuses keys and tables given twice), within the bounds."""
    _check_size(text, shown, error, fix, max_bytes)
    try:
        value = tomllib.loads(text, parse_float=_float)
    except _Refused as refused:
        _raise(refused, shown, error, fix)
    except RecursionError:
        _raise(_too_deep(max_depth), shown, error, fix)
    except tomllib.TOMLDecodeError as exc:
        raise error(_say(shown, f"{_toml_problem(exc, text)}{_then(fix)}")) from None
    except ValueError:  # int()'s limit of 4300 digits, which tomllib lets through
        raise error(_say(shown, "holds an integer of more than 4300 digits, out of range (integers here stay "
                                f"below 2**64){_then(fix)}")) from None
    check_structure(value, shown, error=error, fix=fix, max_depth=max_depth)
    return value


def load_yaml(text: str, shown: str, *, error: ErrorType = GanzooError, fix: str = "fix the file",
              max_depth: int = MAX_DEPTH, max_bytes: int = TEXT_MAX_BYTES, not_yaml_as_text: bool = False) -> Any:
    """``text`` parsed as one YAML 1.2 (core schema) document, within the bounds.

    With ``not_yaml_as_text`` a text that is not YAML comes back as it is (a ``--set`` value is
    then the string the user typed); keys given twice and the bounds are refused either way.
    """
    _check_size(text, shown, error, fix, max_bytes)
    loader = None
    try:
        loader = CoreSchemaLoader(text, max_depth)  # its reader already refuses control characters
        value = loader.get_single_data()
    except _Refused as refused:
        if "\n" not in text.rstrip():
            refused.line = None  # one line (a --set value): no line number to point at
        _raise(refused, shown, error, fix)
    except RecursionError:
        _raise(_too_deep(max_depth), shown, error, fix)
    except yaml.YAMLError as exc:
        if not_yaml_as_text:
            return text
        raise error(_say(shown, f"is not valid YAML: {_yaml_problem(exc)}{_then(fix)}")) from None
    finally:
        if loader is not None:
            loader.dispose()
    check_structure(value, shown, error=error, fix=fix, max_depth=max_depth)
    return value


def check_structure(value: Any, shown: str, *, error: ErrorType = GanzooError, fix: str = "fix the file",
                    max_depth: int = MAX_DEPTH) -> None:
    """Refuse ``value`` when it nests deeper than ``max_depth`` lists and tables or holds an
    integer out of range. Walked level by level without recursion, so no depth can crash the
    walk itself (and a cycle is refused as too deep)."""
    level, depth = [value], 0
    while level:
        below: list[Any] = []
        containers = False
        for node in level:
            if type(node) is int and abs(node) >= MAX_INT:  # a bool is not an int here
                _raise(_Refused(_int_out_of_range(str(node) if node.bit_length() < 10_000 else "")), shown, error, fix)
            elif isinstance(node, (dict, list, tuple)):
                containers = True
                below.extend(node.values() if isinstance(node, dict) else node)
        depth += containers
        if depth > max_depth:
            _raise(_too_deep(max_depth), shown, error, fix)
        level = below


class CoreSchemaLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader with YAML 1.2 core-schema scalars instead of YAML 1.1's (under which
    ``--out no`` would be False, ``off`` False, ``1:20`` the sexagesimal 80 and ``1_000`` 1000),
    only the core tags, and the rules of this module: keys given twice or not strings, aliases to
    an enclosing collection, nesting past ``max_depth`` and expansion past ``MAX_YAML_VALUES``."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, re.Pattern[str]]]]] = {}
    yaml_constructors: ClassVar[dict[Any, Any]] = {}
    yaml_multi_constructors: ClassVar[dict[Any, Any]] = {}

    def __init__(self, text: str, max_depth: int = MAX_DEPTH) -> None:
        super().__init__(text)
        self.max_depth = max_depth
        self._open: list[str | None] = []  # anchors of the collections being composed, outermost first
        self._expanded: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth), aliases expanded
        self._aliased = 0  # values that exist only through aliases

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if not self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        event = self.peek_event()
        if event.anchor in self._open:
            raise _Refused(f"the alias *{event.anchor} refers to the collection it is in", _line(event.start_mark))
        node = super().compose_node(parent, index)  # the anchored node, already composed and counted
        self._aliased += self._expanded[id(node)][0]
        if self._aliased > MAX_YAML_VALUES:
            raise _Refused(f"its aliases expand to more than {MAX_YAML_VALUES:,} values (a \"billion laughs\"); "
                           "write the values out, or alias fewer of them", _line(event.start_mark))
        return node

    def compose_scalar_node(self, anchor: str | None) -> yaml.Node:
        node = super().compose_scalar_node(anchor)
        self._expanded[id(node)] = (1, 0)
        return node

    def compose_sequence_node(self, anchor: str | None) -> yaml.Node:
        return self._collection(super().compose_sequence_node, anchor)

    def compose_mapping_node(self, anchor: str | None) -> yaml.Node:
        return self._collection(super().compose_mapping_node, anchor)

    def _collection(self, compose: Callable[[str | None], yaml.Node], anchor: str | None) -> yaml.Node:
        line = _line(self.peek_event().start_mark)
        if len(self._open) >= self.max_depth:
            raise _Refused(_too_deep(self.max_depth).problem, line)
        self._open.append(anchor)
        try:
            node = compose(anchor)
        finally:
            self._open.pop()
        pairs = isinstance(node, yaml.MappingNode)
        children = [child for pair in node.value for child in pair] if pairs else node.value
        values = 1 + sum(self._expanded[id(child)][0] for child in children)
        depth = 1 + max((self._expanded[id(child)][1] for child in children), default=0)
        if depth > self.max_depth:  # deeper through aliases than as written
            raise _Refused(_too_deep(self.max_depth).problem + " (once its aliases are expanded)", line)
        self._expanded[id(node)] = (values, depth)
        return node

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[str, int | None] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = _line(key_node.start_mark)
            if not isinstance(key, str):
                raise _Refused(f"the key {key!r} is not a string; put it in quotes", line)
            if key in first:
                raise _Refused(f"{key!r} is set twice in one table (first on line {first[key]})", line)
            first[key] = line
        return super().construct_mapping(node, deep=deep)


_CORE_SCHEMA = [  # (tag, pattern, first characters); int before float, which also matches "3"
    ("bool", r"(?i:true|false)$", "tTfF"),
    ("null", r"(?:~|(?i:null)|)$", ["~", "n", "N", ""]),
    ("int", r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?i:inf)|\.(?i:nan))$",
     "-+.0123456789"),
]
_BOOL, _INT, _FLOAT = (re.compile(pattern) for _, pattern, _ in (_CORE_SCHEMA[0], *_CORE_SCHEMA[2:]))


def _yaml_scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode, pattern: re.Pattern[str], kind: str) -> str:
    """The scalar's text when it matches the core schema's ``pattern`` (an explicit ``!!int`` tag
    can put any text there)."""
    text = str(loader.construct_scalar(node))
    if not pattern.match(text):
        raise yaml.constructor.ConstructorError(None, None, f"{text!r} is not {kind}", node.start_mark)
    return text


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """YAML 1.2 ints; SafeLoader's would read ``010`` as octal 8."""
    text = _yaml_scalar(loader, node, _INT, "an integer")
    return _on_line(node, _int, text, {"0x": 16, "0o": 8}.get(text[:2], 10))


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = _yaml_scalar(loader, node, _FLOAT, "a number")
    special = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
    return special[text.lower()] if text.lower() in special else _on_line(node, _float, text)


def _on_line(node: yaml.Node, parse: Callable[..., Any], *args: Any) -> Any:
    """``parse(*args)``, with the node's line on the number it refuses."""
    try:
        return parse(*args)
    except _Refused as refused:
        raise _Refused(refused.problem, _line(node.start_mark)) from None


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return _yaml_scalar(loader, node, _BOOL, "true or false").lower() == "true"


for _tag, _pattern, _first in _CORE_SCHEMA:
    CoreSchemaLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first))
for _tag, _constructor in {"null": yaml.SafeLoader.construct_yaml_null, "bool": _construct_bool,
                           "int": _construct_int, "float": _construct_float,
                           "str": yaml.SafeLoader.construct_yaml_str, "seq": yaml.SafeLoader.construct_yaml_seq,
                           "map": yaml.SafeLoader.construct_yaml_map}.items():
    CoreSchemaLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _constructor)
CoreSchemaLoader.add_constructor(None, yaml.SafeLoader.construct_undefined)  # any other tag: refused


def _int(text: str, base: int = 10) -> int:
    """An integer literal, refused before ``int()`` (and its 4300-digit limit) when out of range."""
    digits = text.lstrip("+-") if base == 10 else text[2:]  # the core schema's 0x and 0o take no sign
    if len(digits.lstrip("0")) > len(str(MAX_INT)):
        raise _Refused(_int_out_of_range(text))
    value = int(digits if base != 10 else text, base)
    if abs(value) >= MAX_INT:
        raise _Refused(_int_out_of_range(text))
    return value


def _float(text: str) -> float:
    """A float literal; one too large to be finite (``1e400``) is refused, ``inf`` as such is not."""
    value = float(text)
    if math.isinf(value) and text.lstrip("+-").lower() not in ("inf", "infinity"):
        raise _Refused(f"the number {_shorten(text)} is out of range (floats end near 1.8e308)")
    return value


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    table = dict(pairs)
    if len(table) < len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise _Refused(f"the key {twice!r} is set twice in one object")
    return table


def _json_constant(name: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[name]


def _refuse_constant(name: str) -> NoReturn:
    raise _Refused(f"it holds {name}, which is not a number here")


def _check_size(text: str | bytes, shown: str, error: ErrorType, fix: str, max_bytes: int) -> None:
    if len(text) > max_bytes:
        raise error(_say(shown, f"is {format_size(len(text))}, more than the {format_size(max_bytes)} it can "
                                f"sensibly be{_then(fix)}"))


def _raise(refused: _Refused, shown: str, error: ErrorType, fix: str) -> NoReturn:
    where = f"line {refused.line}" if refused.line is not None else ""
    subject = " ".join(part for part in (shown, where) if part)
    raise error(f"{subject + ': ' if subject else ''}{refused.problem}{_then(fix)}") from None


def _say(shown: str, predicate: str) -> str:
    """``config file 'x' is not valid JSON: ...``; without ``shown`` (a caller that wraps the
    message in its own line) ``not valid JSON: ...``."""
    return f"{shown} {predicate}" if shown else predicate.removeprefix("is ")


def _then(fix: str) -> str:
    """``; fix`` to end a message, or nothing for a caller that adds its own advice."""
    return f"; {fix}" if fix else ""


def _too_deep(max_depth: int) -> _Refused:
    return _Refused(f"lists and tables nest more than {max_depth} deep")


def _int_out_of_range(text: str) -> str:
    shown = f" {_shorten(text)}" if text else ""
    return f"the integer{shown} is out of range (integers here stay below 2**64)"


def _shorten(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} characters)"


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """``expected ',' or ']' (line 3, column 7)``: PyYAML's own first line is often only the context."""
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if not problem:
        return _first_line(exc)
    return f"{problem}" + (f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else "")


_TOML_AT = re.compile(r"\(at line (\d+), column \d+\)")
_TOML_TWICE = ("Cannot overwrite a value", "Cannot declare", "Duplicate inline table key")
_TOML_KEY = re.compile(r"\s*(?:\[{1,2}\s*(?P<table>[^\]]+?)\s*\]{1,2}|(?P<key>[^=\[]+?)\s*=)")


def _toml_problem(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """tomllib's message, or for a key or table set twice the key and line, as for JSON and YAML."""
    message = _first_line(exc)
    at = _TOML_AT.search(message)
    if at and message.startswith(_TOML_TWICE):
        line = int(at.group(1))
        quoted = re.search(r"key '([^']+)'|\('([^']+)'", message)
        found = _TOML_KEY.match(text.splitlines()[line - 1]) if line <= len(text.splitlines()) else None
        key = (quoted and (quoted.group(1) or quoted.group(2))) or (found and (found["table"] or found["key"]))
        if key:
            return f"line {line}: {key!r} is set twice (a key or [table] given again)"
    return f"is not valid TOML: {message}"
