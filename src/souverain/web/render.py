"""Rendering helpers: the Jinja2 environment, the choropleth map, the colour scale, the dependency diagram."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from souverain.web.data import when

__all__ = ["CLASSES", "Renderer", "classify", "geometry", "pct"]

CLASSES = 5
"""Colour classes of the map (value bands of equal width); the legend names each band."""
LEVEL_ORDER = ("qualified", "european", "exposed", "extraterritorial", "undetermined", "none")


@lru_cache(maxsize=1)
def geometry() -> dict[str, Any]:
    text = resources.files("souverain.web.geo").joinpath("departements.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def classify(value: float | None, indicator: str) -> int | None:
    """Colour class 0 (worst) … 4 (best) of a value; None when there is no measurement."""
    if value is None:
        return None
    share = value / 100 if indicator == "score" else value
    return min(int(share * CLASSES), CLASSES - 1)


def pct(value: float | None, indicator: str = "share") -> str:
    """A value as shown: a score with one decimal, a share as a percentage."""
    if value is None:
        return "—"
    if indicator == "score":
        return f"{value:.1f}"
    return f"{value * 100:.0f} %"


def band_label(index: int, indicator: str) -> str:
    low, high = index * 100 // CLASSES, (index + 1) * 100 // CLASSES
    return f"{low}–{high}" if indicator == "score" else f"{low}–{high} %"


def diagram(org_name: str, rows: list[dict[str, Any]], label: Any, t: Any) -> Markup:
    """An SVG: the organisation on the left, one line per (role, operator) to the operator on the right,
    labelled with the role and the level (text, not colour only)."""
    items: list[tuple[str, str, str]] = []
    seen = set()
    for row in rows:
        operator = row["operator_name"]
        key = (row["role"], operator)
        if key in seen:
            continue
        seen.add(key)
        items.append((row["role"], operator, row["level"]))
    items = items[:30]
    height = max(80, 34 * len(items) + 20)
    width = 760
    mid = height / 2
    parts = [
        f'<svg class="diagram" viewBox="0 0 {width} {height}" role="img" aria-labelledby="diagram-title">',
        f'<title id="diagram-title">{escape(t("diagram_alt"))}</title>',
        f'<rect x="4" y="{mid - 22}" width="190" height="44" rx="6" class="node-org"/>',
        f'<text x="99" y="{mid + 5}" text-anchor="middle" class="node-text">{escape(org_name[:28])}</text>',
    ]
    for i, (role, operator, level) in enumerate(items):
        y = 20 + i * 34
        parts.append(
            f'<path d="M194 {mid} C 300 {mid}, 330 {y + 13}, 440 {y + 13}" class="edge lv-{level}"/>'
        )
        parts.append(f'<text x="300" y="{y + 9}" class="edge-text">{escape(label("role", role))}</text>')
        parts.append(f'<rect x="440" y="{y}" width="316" height="26" rx="4" class="node lv-{level}"/>')
        parts.append(
            f'<text x="448" y="{y + 17}" class="node-text">{escape(operator[:26])} · '
            f"{escape(label('level', level))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


class Renderer:
    def __init__(self) -> None:
        env = Environment(
            loader=PackageLoader("souverain.web", "templates"),
            autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        env.filters["pct"] = pct
        env.filters["when"] = when
        env.globals["classify"] = classify
        env.globals["band_label"] = band_label
        env.globals["CLASSES"] = CLASSES
        env.globals["geometry"] = geometry
        env.globals["diagram"] = diagram
        self.env = env

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)
