"""YAML reading shared by the portfolio and the knowledge base: safe loader that records line numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

__all__ = ["LINE", "YamlProblem", "line_of", "read_yaml"]

LINE = "__line__"
"""Key added to every mapping: the 1-based line where it starts."""

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built


class _LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader that records the line of every mapping."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = loader.construct_mapping(node, deep=True)
    mapping[LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp"))
_STR = "tag:yaml.org,2002:str"
_NO_KEY = object()


class _Unusual(Exception):
    """The document uses something the event builder leaves to PyYAML's own composer and constructor."""


def _build(loader: _LineLoader) -> Any:
    """One document built straight from the parser's events, the same values as ``yaml.load`` with
    ``_LineLoader`` gives (plain scalars resolved and constructed by the loader itself).

    PyYAML composes a node tree (with two marks per node) and then constructs it: for a 10,000-body
    portfolio that took ~2.2 s and ~100 MB, against ~0.8 s here. Anchors, aliases, explicit tags,
    merge keys, complex keys and multi-document streams raise :class:`_Unusual`: the caller then loads
    the text with the full loader, which gives those their usual meaning and their usual errors."""
    get = loader.get_event
    get()  # StreamStartEvent
    event = get()
    if type(event) is StreamEndEvent:
        return None
    if type(event) is not DocumentStartEvent:
        raise _Unusual
    resolve, constructors = loader.resolve, loader.yaml_constructors
    stack: list[list[Any]] = []  # [container, pending key (mappings), line (mappings)]
    result: Any = None
    value: Any
    while True:
        event = get()
        kind = type(event)
        if kind is ScalarEvent:
            if event.anchor is not None or event.tag not in (None, "!"):
                raise _Unusual
            value = event.value
            if event.implicit[0]:  # plain: null, bool, int, float, timestamp or str, as the loader resolves
                tag = resolve(yaml.ScalarNode, value, event.implicit)
                if tag != _STR:
                    if tag not in _PLAIN_TAGS:
                        raise _Unusual
                    try:
                        value = constructors[tag](loader, yaml.ScalarNode(tag, value, event.start_mark))
                    except ValueError as exc:  # e.g. 2026-13-45 looks like a date but is none
                        kind_name = tag.rpartition(":")[2]
                        problem = f"cannot read {value!r} as a {kind_name}: {exc}"
                        raise yaml.constructor.ConstructorError(
                            None, None, problem, event.start_mark
                        ) from None
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if event.anchor is not None or event.tag not in (None, "!"):
                raise _Unusual
            if kind is MappingStartEvent:
                stack.append([{}, _NO_KEY, event.start_mark.line + 1])
            else:
                stack.append([[], None, 0])
            continue
        elif kind is MappingEndEvent:
            frame = stack.pop()
            value = frame[0]
            value[LINE] = frame[2]
        elif kind is SequenceEndEvent:
            value = stack.pop()[0]
        elif kind is DocumentEndEvent:
            break
        else:  # an alias
            raise _Unusual
        if not stack:
            result = value
            continue
        frame = stack[-1]
        container = frame[0]
        if type(container) is list:
            container.append(value)
        elif frame[1] is _NO_KEY:
            if type(value) is dict or type(value) is list:
                raise _Unusual  # a complex key: PyYAML's constructor reports it
            frame[1] = value
        else:
            container[frame[1]] = value
            frame[1] = _NO_KEY
    if type(get()) is not StreamEndEvent:
        raise _Unusual  # a second document: the full loader says what is wrong
    return result


def _load(text: str) -> Any:
    loader = _LineLoader(text)
    try:
        return _build(loader)
    except _Unusual:
        pass
    finally:
        loader.dispose()
    return yaml.load(text, Loader=_LineLoader)


class YamlProblem(Exception):
    """The file cannot be read as YAML; ``str()`` is ``path[:line]: reason``."""


def read_yaml(path: Path) -> Any:
    """Parse ``path`` (UTF-8 YAML) with line numbers on every mapping."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlProblem(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise YamlProblem(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise YamlProblem(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return _load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlProblem(f"{path}{where}: invalid YAML: {reason}") from None
    except (ValueError, TypeError) as exc:  # a value PyYAML's full loader could not construct (!!int abc…)
        raise YamlProblem(f"{path}: invalid YAML: {exc}") from None


def line_of(mapping: Any) -> int:
    """Line of a mapping read by :func:`read_yaml` (0 when unknown)."""
    return int(mapping.get(LINE, 0)) if isinstance(mapping, dict) else 0
