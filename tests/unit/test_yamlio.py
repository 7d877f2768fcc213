"""The event builder of ``souverain.yamlio`` gives what PyYAML's own load gives, or hands over to it."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from souverain import yamlio
from souverain.yamlio import LINE, YamlProblem, read_yaml

ROOT = Path(__file__).resolve().parents[2]

BUILT = {  # handled by the event builder itself
    "empty": "",
    "comment only": "# nothing\n",
    "bare document marker": "---\n",
    "plain scalars": (
        "a: ~\nb: null\nc:\nd: yes\ne: Off\nf: 0x1f\ng: 017\ng2: 0o17\nh: 1_000\ni: -5\nj: 1e3\nk: .inf\n"
        "l: 2026-11-24\nm: 2026-11-24T10:00:00Z\nn: plain text\no: 12:30\np: '0123'\nq: \"x\\ty\"\n"
    ),
    "block scalars": "a: |\n  one\n  two\nb: >\n  folded\n  text\nc: |-\n  kept\n",
    "nesting and lines": (
        "organisations:\n- siren: '211417779'\n  domains:\n  - name: a.fr\n    roles: [web, mail]\n"
        "  - {name: b.fr, roles: []}\n  territory: {}\n- []\n- - nested\n  - 2\n"
    ),
    "duplicate keys": "a: 1\nb: 2\na: 3\n",
    "non-string keys": "1: one\ntrue: yes\nnull: nothing\n2026-01-01: day\n",
    "non-specific tag": "a: ! 12\nb: ! {c: 1}\n",
    "a user key named like the line key": "__line__: 7\nx: 1\n",
    "top-level sequence": "- 1\n- two\n- {three: 3}\n",
    "top-level scalar": "just text\n",
}

HANDED_OVER = {  # the builder declines; PyYAML's composer and constructor decide
    "anchor and alias": "base: &b {x: 1}\ncopy: *b\n",
    "merge key": "base: &b {x: 1}\nmerged:\n  <<: *b\n  y: 2\n",
    "explicit tags": "a: !!str 123\nb: !!float 1\nc: !!binary aGVsbG8=\nd: !!set {x, y}\n",
    "complex key": "? [a, b]\n: c\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "unknown tag": "a: !custom x\n",
    "undefined alias": "a: *nowhere\n",
    "anchored scalar": "a: &x 1\n",
}

BROKEN = {
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "unclosed flow": "a: [1, 2\nb: 3\n",
    "tab indentation": "a:\n\tb: 1\n",
}


def _outcome(load: Any, text: str) -> Any:
    try:
        return ("value", _comparable(load(text)))
    except yaml.YAMLError as exc:
        return ("error", type(exc).__name__, str(exc))


def _comparable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, dict):
        return [(_comparable(k), _comparable(v)) for k, v in value.items()]  # order included
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return (type(value).__name__, value)


def _full(text: str) -> Any:
    return yaml.load(text, Loader=yamlio._LineLoader)


def _builder_declines(text: str) -> bool:
    loader = yamlio._LineLoader(text)
    try:
        yamlio._build(loader)
    except yamlio._Unusual:
        return True
    except yaml.YAMLError:
        return False
    finally:
        loader.dispose()
    return False


@pytest.mark.parametrize("text", BUILT.values(), ids=BUILT.keys())
def test_builder_gives_what_pyyaml_gives(text: str) -> None:
    assert not _builder_declines(text)
    assert _outcome(yamlio._load, text) == _outcome(_full, text)


@pytest.mark.parametrize("text", HANDED_OVER.values(), ids=HANDED_OVER.keys())
def test_unusual_documents_are_handed_to_pyyaml(text: str) -> None:
    assert _builder_declines(text)
    assert _outcome(yamlio._load, text) == _outcome(_full, text)


@pytest.mark.parametrize("text", BROKEN.values(), ids=BROKEN.keys())
def test_syntax_errors_are_pyyamls(text: str) -> None:
    fast, full = _outcome(yamlio._load, text), _outcome(_full, text)
    assert fast[0] == "error"
    assert fast == full


def test_values_and_lines() -> None:
    doc = yamlio._load(BUILT["plain scalars"] + BUILT["nesting and lines"].replace("organisations", "orgs"))
    assert doc["a"] is None and doc["c"] is None and doc["d"] is True and doc["e"] is False
    assert (doc["f"], doc["g"], doc["g2"], doc["h"], doc["i"]) == (31, 15, "0o17", 1000, -5)
    assert doc["k"] == math.inf and doc["l"] == dt.date(2026, 11, 24)
    assert doc["o"] == 750  # YAML 1.1 sexagesimal (12 × 60 + 30), as PyYAML reads it
    assert (doc["p"], doc["q"]) == ("0123", "x\ty")
    assert doc[LINE] == 1
    org = doc["orgs"][0]
    assert org[LINE] == 20 and org["domains"][0][LINE] == 22 and org["domains"][1][LINE] == 24
    assert doc["orgs"][1:] == [[], ["nested", 2]]


def test_repository_yaml_files_load_the_same() -> None:
    skip = {".venv", ".git", "work", "node_modules"}
    files = [p for p in ROOT.rglob("*.y*ml") if not skip & set(p.relative_to(ROOT).parts)]
    assert len(files) >= 10  # the KB, the policy, the example portfolio
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert _outcome(yamlio._load, text) == _outcome(_full, text), path


def test_read_yaml_reports_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(BROKEN["unclosed flow"], encoding="utf-8")
    with pytest.raises(YamlProblem, match=r"p\.yaml:\d+: invalid YAML"):
        read_yaml(path)
    path.write_text(HANDED_OVER["undefined alias"], encoding="utf-8")
    with pytest.raises(YamlProblem, match=r"p\.yaml:1: invalid YAML: found undefined alias"):
        read_yaml(path)


def test_values_that_cannot_be_constructed_are_input_errors(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("a: 1\nday: 2026-13-45\n", encoding="utf-8")  # a date by its shape, but month 13
    with pytest.raises(
        YamlProblem, match=r"p\.yaml:2: invalid YAML: cannot read '2026-13-45' as a timestamp"
    ):
        read_yaml(path)
    path.write_text("a: &x 1\nb: !!int abc\n", encoding="utf-8")  # the full loader's path
    with pytest.raises(YamlProblem, match=r"p\.yaml: invalid YAML: invalid literal for int"):
        read_yaml(path)
