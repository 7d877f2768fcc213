"""``souverain import-evidence FILE.jsonl``: recorded observations gathered elsewhere become a run.

One JSON object per line, the :class:`~souverain.attribution.observe.Observation` format (docs/kb.md):
``{"domain": "mairie.fr", "mx": [{"host": "…", "addresses": ["…"]}], "spf_includes": […], "dkim": […], …}``
plus, when no portfolio is given, the organisation: ``"siren"``, ``"name"`` and optionally ``"kind"``.
Every problem is reported with ``file:line: field``; nothing is imported unless the whole file is valid.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from souverain.attribution.observe import OBSERVATION_PROBE, Observation
from souverain.errors import InputError, require_file
from souverain.evidence import Evidence, Status
from souverain.portfolio import Domain, Organisation, load_portfolio
from souverain.portfolio.validate import normalise_domain, siren_problem
from souverain.store import Store

__all__ = ["import_observations", "read_observations"]


def read_observations(path: Path) -> list[tuple[int, Observation, dict[str, Any]]]:
    """(line number, observation, raw object) of every line; raises InputError listing every problem."""
    require_file(path)
    problems: list[tuple[int, str]] = []  # (line, message)
    rows: list[tuple[int, Observation, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append((n, f"{path}:{n}: not JSON ({exc.msg})"))
            continue
        if not isinstance(raw, dict):
            problems.append((n, f"{path}:{n}: expected a JSON object"))
            continue
        domain = raw.get("domain")
        if not isinstance(domain, str) or not domain.strip():
            why = "missing" if domain in (None, "") else "expected a name"
            problems.append((n, f"{path}:{n}: domain: {why}"))
            continue
        try:
            raw["domain"] = normalise_domain(domain)
        except ValueError as exc:
            problems.append((n, f"{path}:{n}: domain: {domain[:80]!r}: {exc}"))
            continue
        try:
            obs = Observation.from_dict(raw)
        except ValueError as exc:
            problems.append((n, f"{path}:{n}: {exc}"))
            continue
        if obs.domain in seen:
            problems.append((n, f"{path}:{n}: domain {obs.domain} already on line {seen[obs.domain]}"))
            continue
        seen[obs.domain] = n
        rows.append((n, obs, raw))
    if problems:
        raise InputError(_first_and_more(problems))
    if not rows:
        raise InputError(f"{path}: no observation found")
    return rows


def _first_and_more(problems: list[tuple[int, str]]) -> str:
    """The first problem, then the others' lines (`` (and 2 more, line(s) 4, 9)``): one line locates all."""
    first = problems[0][1]
    if len(problems) < 2:
        return first
    lines = [str(n) for n, _ in problems[1:21]] + (["…"] if len(problems) > 21 else [])
    return f"{first} (and {len(problems) - 1} more, line(s) {', '.join(lines)})"


def _organisations(path: Path, rows: list[tuple[int, Observation, dict[str, Any]]]) -> list[Organisation]:
    by_siren: dict[str, dict[str, Any]] = {}
    for n, obs, raw in rows:
        siren = str(raw.get("siren") or "")
        if not siren:
            raise InputError(
                f"{path}:{n}: siren: missing (each line names its organisation, or give --portfolio)"
            )
        if problem := siren_problem(siren):
            raise InputError(f"{path}:{n}: siren: {problem} (or give --portfolio)")
        if not isinstance(raw.get("name"), str) or not raw["name"].strip():
            raise InputError(f"{path}:{n}: name: missing organisation name (or give --portfolio)")
        entry = by_siren.setdefault(siren, {"name": raw["name"].strip(), "kind": raw.get("kind", "other"),
                                            "domains": []})  # fmt: skip
        entry["domains"].append(Domain(obs.domain, frozenset({"web", "mail"})))
    return [
        Organisation(siren=s, name=e["name"], kind=str(e["kind"]), domains=tuple(e["domains"]))
        for s, e in by_siren.items()
    ]


def import_observations(store: Store, path: Path, portfolio: Path | None = None) -> tuple[int, int]:
    """Create a completed run holding one ``observation`` evidence per domain; returns (run id, domains)."""
    rows = read_observations(path)
    if portfolio is not None:
        orgs = load_portfolio(portfolio)
        known = {d.name for o in orgs for d in o.domains}
        missing = [(n, f"{path}:{n}: domain {obs.domain} is not in {portfolio}") for n, obs, _ in rows
                   if obs.domain not in known]  # fmt: skip
        if missing:
            raise InputError(_first_and_more(missing))
        wanted = {obs.domain for _, obs, _ in rows}
        orgs = [o for o in orgs if any(d.name in wanted for d in o.domains)]
        orgs = [replace(o, domains=tuple(d for d in o.domains if d.name in wanted)) for o in orgs]
    else:
        orgs = _organisations(path, rows)
    run_id = store.create_run(f"import:{path}", orgs, {"imported_from": str(path.resolve())})
    targets = {t.domain: t.id for t in store.targets(run_id)}
    now = time.time()
    items = []
    for _, obs, _ in rows:
        ev = Evidence(OBSERVATION_PROBE, obs.domain, Status.OK, obs.to_dict(), started_at=now)
        items.append((run_id, targets[obs.domain], str(Status.OK), now, 0.0, [ev]))
    for i in range(0, len(items), 1000):
        store.record_targets(items[i : i + 1000])
    store.set_run_status(run_id, "completed")
    return run_id, len(items)
