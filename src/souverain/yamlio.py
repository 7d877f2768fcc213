"""YAML reading shared by the portfolio and the knowledge base: safe loader that records line numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

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
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlProblem(f"{path}{where}: invalid YAML: {reason}") from None


def line_of(mapping: Any) -> int:
    """Line of a mapping read by :func:`read_yaml` (0 when unknown)."""
    return int(mapping.get(LINE, 0)) if isinstance(mapping, dict) else 0
