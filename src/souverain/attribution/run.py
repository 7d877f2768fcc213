"""Attribute a whole run from its stored evidence (after a scan, or ``souverain reassess RUN``)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from souverain.attribution.engine import Attributor, Dependency, Reason
from souverain.attribution.observe import PROBES_READ, observation_from_evidence
from souverain.evidence import Evidence
from souverain.kb.load import KB, load_kb
from souverain.kb.netdata import NetworkData
from souverain.portfolio import Organisation
from souverain.store import Store
from souverain.store.db import RecordedTarget

__all__ = [
    "AttributionResult",
    "StreamedAttribution",
    "attribute_run",
    "contact_dependencies",
    "context_for_run",
    "load_context",
    "recorded_targets",
    "run_dependencies",
]

BATCH = 500


@dataclass(slots=True)
class AttributionResult:
    attribution_id: int
    kb_version: str
    targets: int
    dependencies: int
    by_role: dict[str, Counter[str]] = field(default_factory=dict)
    """role → confidence counts."""


def load_context(
    kb_dirs: Sequence[Path] = (), kb_extra: Sequence[Path] = (), network_dirs: Sequence[Path] = (),
    prefix_tsvs: Sequence[Path] = (),
) -> tuple[KB, NetworkData]:  # fmt: skip
    """The KB (shipped one unless ``kb_dirs``) with overlays, and the network tables."""
    kb = load_kb(list(kb_dirs) or None, extra=kb_extra)
    return kb, NetworkData.load(network_dirs, prefix_tsvs)


def context_for_run(
    config: dict[str, Any], home: Path, kb_extra: Sequence[Path] = ()
) -> tuple[KB, NetworkData]:
    """KB (+ the lab's overlay when the run scanned the lab) and network tables for a run's configuration:
    ``$SOUVERAIN_HOME/kb/networks`` (``souverain kb update``), the lab's tables and prefix table."""
    from souverain.errors import InputError

    extra: list[Path] = []
    network_dirs = [home / "kb" / "networks"]
    tsvs: list[Path] = []
    if config.get("lab_dir"):
        lab = Path(config["lab_dir"])
        if (lab / "kb").is_dir():
            extra.append(lab / "kb")
        network_dirs.append(lab / "networks")
        if (lab / "prefixes.tsv").is_file():
            tsvs.append(lab / "prefixes.tsv")
    extra += [Path(p) for p in config.get("kb_extra", [])] + list(kb_extra)
    for path in extra:
        if not path.exists():
            raise InputError(f"--kb-extra '{path}': not found")
    return load_context(kb_extra=extra, network_dirs=network_dirs, prefix_tsvs=tsvs)


def contact_dependencies(attributor: Attributor, org: Organisation) -> list[Dependency]:
    """A shared provider address among the contacts (…@orange.fr) is a mailbox dependency of the body."""
    out = []
    for address in org.contacts:
        domain = address.rpartition("@")[2].lower()
        sigs = [s for s in attributor.index.host("maildomain", domain) if s.role == "mailbox"]
        if sigs:
            sig = sigs[0]
            reason = Reason("contact-address", address, "portfolio.contacts", sig.entity, sig.source.url,
                            sig.source.verified)  # fmt: skip
            dep = Dependency("mailbox", address, sig.entity, "high", [reason], infrastructure=sig.entity,
                             scope="contact")  # fmt: skip
            out.append(attributor.with_exposures(dep))
    return out


def attribute_run(
    store: Store,
    run_id: int,
    kb: KB,
    networks: NetworkData,
    *,
    on: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
) -> AttributionResult:
    """Attribute every recorded target of ``run_id`` and store a new attribution set."""
    on = on or dt.date.today()
    attributor = Attributor(kb, networks, on)
    attribution_id = store.create_attribution(run_id, kb.version, networks.tables, on.isoformat())
    result = AttributionResult(attribution_id, kb.version, 0, 0)

    def counted(
        items: Iterable[tuple[int, str, list[Evidence]]],
    ) -> Iterator[tuple[int, str, list[Evidence]]]:
        for item in items:
            result.targets += 1
            if progress is not None:
                progress(1)
            yield item

    targets = counted(recorded_targets(store, run_id, PROBES_READ))
    orgs = itertools.chain.from_iterable(store.run_organisation_batches(run_id))  # contacts, read last
    _store_rows(store, result, run_dependencies(attributor, targets, orgs))
    return result


def _store_rows(store: Store, result: AttributionResult, rows: Iterable[dict[str, Any]]) -> None:
    """Store dependency rows in batches of ``BATCH`` into ``result``'s set, and count them there."""
    batch: list[dict[str, Any]] = []
    for row in itertools.chain(rows, (None,)):
        if row is not None:
            batch.append(row)
        if batch and (row is None or len(batch) >= BATCH):
            store.add_dependencies(result.attribution_id, batch)
            result.dependencies += len(batch)
            for r in batch:
                result.by_role.setdefault(r["role"], Counter())[r["confidence"]] += 1
            batch = []


class StreamedAttribution:
    """Attribute a run while it is scanned: each batch of targets the scan records is attributed from the
    evidence still in memory (no reading back), then :meth:`finish` adds the organisations' contact addresses
    and marks the set complete. The same rows as :func:`attribute_run` on the stored evidence (tested), but
    without a single-threaded pass at the end of the scan. Until finished the set is incomplete and readers
    ignore it; an interrupted run is attributed after its resumed scan (which deletes the incomplete set) or
    by ``souverain reassess``.

    :meth:`add` runs in the scan's writer thread and never raises: a failure is kept in :attr:`error` and the
    caller attributes the run from the stored evidence instead.
    """

    def __init__(
        self, store: Store, run_id: int, kb: KB, networks: NetworkData, *, on: dt.date | None = None
    ) -> None:
        on = on or dt.date.today()
        self.store = store
        self.run_id = run_id
        self.attributor = Attributor(kb, networks, on)
        self.domains = {t.id: t.domain for t in store.targets(run_id)}
        self.id = store.create_attribution(
            run_id, kb.version, networks.tables, on.isoformat(), complete=False
        )
        self.result = AttributionResult(self.id, kb.version, 0, 0)
        self.error: BaseException | None = None

    def add(self, items: Iterable[RecordedTarget]) -> None:
        """Attribute recorded targets (the items the scan's writer recorded)."""
        if self.error is not None:
            return
        try:
            targets = []
            for item in items:
                read = [ev for ev in item[5] if ev.probe in PROBES_READ]
                if read:  # as recorded_targets: a target without any of those evidence is not attributed
                    targets.append((item[1], self.domains[item[1]], read))
            _store_rows(self.store, self.result, run_dependencies(self.attributor, targets, ()))
            self.result.targets += len(targets)
        except Exception as exc:  # kept; the run is then attributed from the stored evidence
            self.error = exc

    def finish(self) -> AttributionResult:
        """The contact addresses of the run's organisations, then the set is complete."""
        if self.error is not None:
            raise self.error
        orgs = itertools.chain.from_iterable(self.store.run_organisation_batches(self.run_id))
        _store_rows(self.store, self.result, run_dependencies(self.attributor, (), orgs))
        self.store.complete_attribution(self.id)
        return self.result


def recorded_targets(
    store: Store, run_id: int, probes: Collection[str]
) -> Iterator[tuple[int, str, list[Evidence]]]:
    """(target id, domain, evidence of ``probes``) of every recorded target of a run."""
    domains = {t.id: t.domain for t in store.targets(run_id)}
    for target_id, items in store.evidence_by_target(run_id, probes):
        if target_id in domains:
            yield target_id, domains[target_id], items


def run_dependencies(
    attributor: Attributor,
    targets: Iterable[tuple[int, str, list[Evidence]]],
    orgs: Iterable[Organisation],
) -> Iterator[dict[str, Any]]:
    """Dependency rows of a run: each target's (with ``target_id`` and ``domain``), then each organisation's
    contact addresses (with ``siren``). Stored by :func:`attribute_run`, kept in memory by the assessment."""
    for target_id, domain, items in targets:
        for dep in attributor.attribute(observation_from_evidence(domain, items)):
            yield {"target_id": target_id, "domain": domain, **dep.to_dict()}
    for org in orgs:
        for dep in contact_dependencies(attributor, org):
            yield {"siren": org.siren, "domain": None, **dep.to_dict()}
