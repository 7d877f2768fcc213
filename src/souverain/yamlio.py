"""YAML reading shared by the portfolio and the knowledge base: safe loader that records line numbers.

Aliases are shared objects in the loaded value, but every consumer that walks the value (validation,
``str()``, JSON) expands them: a document whose aliases expand to far more values than it writes (a
"billion laughs") is refused before it is constructed. ``read_yaml(path, text=True)`` reads a file whose
every field is text (the portfolio): scalars are their source text (``01`` stays ``'01'``, ``no`` stays
``'no'``; only null and empty are ``None``) and a key repeated in one mapping is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

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

__all__ = ["LINE", "YamlProblem", "line_of", "read_yaml", "without_lines"]

LINE = "__line__"
"""Key added to every mapping: the 1-based line where it starts."""

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built


MAX_ALIAS_EXPANSION = 10
"""Aliases may make a document at most this many times larger than written (or 100,000 values)."""
_MIN_EXPANDED = 100_000


def _expansion_problem(root: yaml.Node) -> yaml.constructor.ConstructorError | None:
    """Refuse a node graph whose aliases expand it far beyond its written size, or that contains itself.

    ``expanded`` is the number of values a full walk of the loaded document visits (every alias counted
    as a copy of its anchor), computed once per written node; aliases share written nodes, so the walk
    over the graph costs its written size, not its expanded one."""
    expanded: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    children: list[yaml.Node]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            expanded[key] = 1
            continue
        if done:
            active.discard(key)
            expanded[key] = 1 + sum(expanded[id(child)] for child in children)
            continue
        if key in expanded:
            continue
        if key in active:
            return yaml.constructor.ConstructorError(
                None,
                None,
                "an alias refers to a value containing it (a recursive structure)",
                node.start_mark,
            )
        active.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in expanded)
    limit = max(_MIN_EXPANDED, MAX_ALIAS_EXPANSION * len(expanded))
    if expanded[id(root)] <= limit:
        return None
    # name the first node, in document order, whose expansion alone is too large and whose parts are not
    culprit = root
    while True:
        parts = (
            [part for pair in culprit.value for part in pair]
            if isinstance(culprit, yaml.MappingNode)
            else culprit.value
        )
        big = next((part for part in parts if expanded[id(part)] > limit), None)
        if big is None:
            break
        culprit = big
    return yaml.constructor.ConstructorError(
        None,
        None,
        f"aliases expand the document to {expanded[id(root)]:,} values from {len(expanded):,} written "
        f"(more than {limit:,}): refused",
        culprit.start_mark,
    )


class _LineLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader that records the line of every mapping and refuses alias bombs."""

    def construct_document(self, node: yaml.Node) -> Any:
        problem = _expansion_problem(node)
        if problem is not None:
            raise problem
        return super().construct_document(node)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = loader.construct_mapping(node, deep=True)
    mapping[LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_TEXT_RESOLVERS = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag in (_NULL, _MERGE)]
    for first, resolvers in _LineLoader.yaml_implicit_resolvers.items()
}


class _TextLineLoader(_LineLoader):
    """:class:`_LineLoader` for files whose every field is text: a plain scalar is null or its own text
    (no YAML 1.1 booleans, octal, sexagesimal, floats or dates), explicit ``!!int``/``!!bool``/``!!float``/
    ``!!timestamp`` give their text too, and a key repeated in one mapping is an error."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {
        first: kept for first, kept in _TEXT_RESOLVERS.items() if kept
    }

    def construct_document(self, node: yaml.Node) -> Any:
        problem = _duplicate_key(node)
        if problem is not None:
            raise problem
        return super().construct_document(node)


def _construct_text(loader: _TextLineLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


def _duplicate_key(root: yaml.Node) -> yaml.constructor.ConstructorError | None:
    """The first key written twice in one mapping of the node graph (merge keys aside: a key may override
    a merged one). Run before construction, which flattens merges into the mappings."""
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes or isinstance(node, yaml.ScalarNode):
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
            continue
        keys: set[str | None] = set()
        values: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE:
                key = None if key_node.tag == _NULL else key_node.value
                if key in keys:
                    return yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} in one mapping", key_node.start_mark
                    )
                keys.add(key)
            values.append(value_node)
        stack.extend(reversed(values))
    return None


for _name in ("bool", "int", "float", "timestamp"):
    _TextLineLoader.add_constructor(f"tag:yaml.org,2002:{_name}", _construct_text)


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
    unique_keys = isinstance(loader, _TextLineLoader)
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
            if unique_keys and value in container:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {value!r} in one mapping", event.start_mark
                )
            frame[1] = value
        else:
            container[frame[1]] = value
            frame[1] = _NO_KEY
    if type(get()) is not StreamEndEvent:
        raise _Unusual  # a second document: the full loader says what is wrong
    return result


def _load(text: str, loader_class: type[_LineLoader] = _LineLoader) -> Any:
    loader = loader_class(text)
    try:
        return _build(loader)
    except _Unusual:
        pass
    finally:
        loader.dispose()
    return yaml.load(text, Loader=loader_class)


class YamlProblem(Exception):
    """The file cannot be read as YAML; ``str()`` is ``path[:line]: reason``."""


def read_yaml(path: Path, *, text: bool = False) -> Any:
    """Parse ``path`` (UTF-8 YAML) with line numbers on every mapping.

    ``text=True``: every scalar is its source text or ``None`` and duplicate keys are errors
    (:class:`_TextLineLoader`)."""
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlProblem(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise YamlProblem(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise YamlProblem(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return _load(content, _TextLineLoader if text else _LineLoader)
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


def without_lines(value: Any) -> Any:
    """``value`` read by :func:`read_yaml` without the line marks of its mappings, at every depth: for data
    that leaves the program as it was read (indicators, references in reports and documents)."""
    if isinstance(value, dict):
        return {k: without_lines(v) for k, v in value.items() if k != LINE}
    if isinstance(value, list):
        return [without_lines(v) for v in value]
    return value
