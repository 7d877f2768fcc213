"""Assess a whole run: every organisation, its history against the previous assessed run, the programme
trajectories; stored as one assessment (run × attribution × methodology)."""

from __future__ import annotations

import datetime as dt
import gc
import logging
import multiprocessing
import signal
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import orjson

from souverain.assessment.assess import Assessor
from souverain.assessment.document import check_view, flagged
from souverain.assessment.essentials import HYGIENE_PROBES
from souverain.assessment.levels import Leveller
from souverain.attribution.engine import Attributor, body_dependencies
from souverain.attribution.observe import PROBES_READ
from souverain.attribution.run import run_dependencies
from souverain.errors import InputError
from souverain.evidence import Evidence, Status
from souverain.kb.load import KB
from souverain.kb.netdata import NetworkData
from souverain.policy.load import Policy
from souverain.portfolio import Organisation
from souverain.processes import die_with_parent
from souverain.store import Store

__all__ = ["AssessmentResult", "assess_run", "domain_indicators", "frozen_heap", "history", "trajectories"]

log = logging.getLogger(__name__)

STATUS_ONLY = ("page",)
"""Probes whose status alone the assessment needs (their payloads are not read)."""
SENSITIVE = frozenset({"sensible-art31", "defense", "nucleaire"})
BATCH = 500
"""Organisations read, assessed and written together: memory stays flat whatever the size of the run."""


@dataclass(frozen=True, slots=True)
class AssessmentResult:
    assessment_id: int
    methodology: str
    organisations: int
    summary: dict[str, Any]
    helped: int = 0
    """Batches of organisations assessed by the forked helper (``processes=2``)."""


@contextmanager
def frozen_heap() -> Iterator[None]:
    """What is alive when the assessment starts (KB, policy, the run's organisations and indexes) lives as
    long as it: kept out of the garbage collector's passes (``gc.freeze``), which otherwise walk it again and
    again while the documents are built."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _assess_all(
    orgs: list[Organisation],
    evidence: dict[str, dict[str, Evidence]],
    deps_by_domain: dict[str, list[dict[str, Any]]],
    deps_by_siren: dict[str, list[dict[str, Any]]],
    assessor: Assessor,
    progress: Callable[[int], None] | None = None,
) -> dict[str, dict[str, Any]]:
    docs = {}
    for org in orgs:
        deps = body_dependencies(org.domains, deps_by_domain, deps_by_siren.get(org.siren, []))
        ev = {dom.name: evidence[dom.name] for dom in org.domains if dom.name in evidence}
        docs[org.siren] = assessor.assess(org, ev, deps).to_dict()
        if progress is not None:
            progress(1)
    return docs


_Evidence = dict[str, dict[str, Evidence]]
_Place = tuple[str | None, str | None]  # (région, département) of an organisation
_Rows = dict[str, list[dict[str, Any]]]


class _RunReader:
    """What the assessment reads of a run, batch by batch: hygiene evidence (the page probe's status only)
    and the stored dependency rows of the batch's domains; organisation-level rows are few and read once."""

    def __init__(self, store: Store, run_id: int, attribution_id: int) -> None:
        self.store, self.attribution_id = store, attribution_id
        self.targets = {t.domain: t.id for t in store.targets(run_id)}
        self.pages = {probe: store.probe_statuses(run_id, probe) for probe in STATUS_ONLY}
        self.by_siren: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in store.dependencies_of(attribution_id, org_level_only=True, essentials=True):
            self.by_siren[row["siren"]].append(row)

    def read(self, batch: list[Organisation]) -> tuple[_Evidence, _Rows, _Rows]:
        domain_of = {self.targets[d.name]: d.name for o in batch for d in o.domains if d.name in self.targets}
        ids = sorted(domain_of)
        evidence: dict[str, dict[str, Evidence]] = {}
        for tid, items in self.store.evidence_for(ids, probes=HYGIENE_PROBES, essentials=True).items():
            if items:
                evidence[domain_of[tid]] = {e.probe: e for e in items}
        for probe, statuses in self.pages.items():
            for tid in ids:
                if tid in statuses:
                    status, error = statuses[tid]
                    domain = domain_of[tid]
                    status_only = Evidence(probe, domain, Status(status), error=error)
                    evidence.setdefault(domain, {})[probe] = status_only
        by_domain: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self.store.dependencies_of(self.attribution_id, target_ids=ids, essentials=True):
            by_domain[row["domain"]].append(row)
        contacts = {o.siren: self.by_siren[o.siren] for o in batch if o.siren in self.by_siren}
        return evidence, by_domain, contacts


class _PreviousRun:
    """The previous assessed run, batch by batch: its stored documents, and its evidence re-attributed and
    re-assessed with today's KB and policy (in memory, nothing stored) to tell reality from methodology."""

    def __init__(
        self,
        store: Store,
        run_id: int,
        assessment_id: int,
        kb: KB,
        networks: NetworkData,
        policy: Policy,
        on: dt.date,
    ) -> None:
        self.store, self.run_id, self.assessment_id = store, run_id, assessment_id
        self.targets = {t.domain: t.id for t in store.targets(run_id)}
        self.attributor = Attributor(kb, networks, on)
        self.assessor = Assessor(kb, policy, Leveller(kb, policy, on))

    def read(self, batch: list[Organisation]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        old_orgs = self.store.run_organisations(self.run_id, [o.siren for o in batch])  # in SIREN order
        old_docs = self.store.org_assessments_of(self.assessment_id, [o.siren for o in old_orgs])
        targets = self.targets
        domain_of = {targets[d.name]: d.name for o in old_orgs for d in o.domains if d.name in targets}
        ids = sorted(domain_of)
        recorded = [
            (tid, domain_of[tid], items)
            for tid, items in self.store.evidence_for(ids, probes=PROBES_READ | HYGIENE_PROBES).items()
            if items
        ]
        evidence = {
            domain: {e.probe: e for e in items if e.probe in HYGIENE_PROBES or e.probe in STATUS_ONLY}
            for _, domain, items in recorded
        }
        by_domain: dict[str, list[dict[str, Any]]] = defaultdict(list)
        by_siren: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in run_dependencies(self.attributor, recorded, old_orgs):
            if row["domain"] is not None:
                by_domain[row["domain"]].append(row)
            else:
                by_siren[row["siren"]].append(row)
        return old_docs, _assess_all(old_orgs, evidence, by_domain, by_siren, self.assessor)


class _Helper:
    """A forked process that assesses every other batch of the run (indexes 1, 3, 5…) and sends each batch's
    documents back as JSON, in order, through a pipe; the parent stays the only writer. It inherits the
    assessment's state (KB, policy, indexes, the previous run's) from the fork, so it starts at once, and
    reads the store through its own connection.

    Whatever goes wrong in it — an exception, a crash, a batch that does not match, no answer for
    ``PATIENCE_S`` — the parent assesses the remaining batches itself: the result is the same, only
    slower."""

    PATIENCE_S = 120.0

    @staticmethod
    def helps(index: int) -> bool:
        """Whether batch ``index`` is the helper's: every other one. This process writes every document
        too, so a larger share makes it wait (two of every three: slower than one of two, measured)."""
        return index % 2 == 1

    def __init__(self, process: multiprocessing.process.BaseProcess, conn: Connection) -> None:
        self.process, self.conn = process, conn
        self.alive = True
        self.batches = 0

    @classmethod
    def start(
        cls,
        store: Store,
        run_id: int,
        batch_size: int,
        assess: Callable[[list[Organisation]], list[dict[str, Any]]],
    ) -> _Helper | None:
        if "fork" not in multiprocessing.get_all_start_methods():
            return None
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)

        def main() -> None:
            die_with_parent()
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
            store.engine.dispose(close=False)  # the parent's pooled connections stay the parent's
            try:
                for batch in store.run_organisation_batches(run_id, batch_size, only=cls.helps):
                    send.send_bytes(orjson.dumps(assess(batch), option=orjson.OPT_NON_STR_KEYS))
            except BaseException as exc:  # reported to the parent, which carries on alone
                with suppress(OSError):  # unless it stopped listening (it stopped us, then)
                    send.send_bytes(b"!" + f"{type(exc).__name__}: {exc}".encode()[:500])

        try:
            process = context.Process(target=main, name="souverain-assess", daemon=True)
            process.start()
        except OSError:
            return None
        finally:
            send.close()  # the parent's copy: the child's end closing tells the parent it is gone
        return cls(process, receive)

    def take(self, batch: list[Organisation]) -> list[dict[str, Any]] | None:
        """The helper's documents for ``batch``, or None (the caller assesses it) once the helper failed."""
        if not self.alive:
            return None
        try:
            if not self.conn.poll(self.PATIENCE_S):
                raise TimeoutError(f"no batch within {self.PATIENCE_S:.0f} s")
            try:
                raw = self.conn.recv_bytes()
            except EOFError:
                self.process.join(timeout=1.0)
                raise RuntimeError(f"its process ended (exit code {self.process.exitcode})") from None
            if raw.startswith(b"!"):
                raise RuntimeError(raw[1:].decode(errors="replace"))
            docs: list[dict[str, Any]] = orjson.loads(raw)
            if [d["siren"] for d in docs] != [o.siren for o in batch]:
                raise RuntimeError("the helper's batch does not match")
            self.batches += 1
            return docs
        except Exception as exc:  # whatever it is, this process can do the work itself
            log.warning(
                "assessment helper stopped (%s); assessing the remaining batches in this process", exc
            )
            self.stop()
            return None

    def stop(self) -> None:
        self.alive = False
        self.conn.close()
        self.process.join(timeout=1.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def _dep_index(doc: dict[str, Any] | None) -> dict[tuple[str, str, str], tuple[str | None, str]]:
    if doc is None:
        return {}
    return {
        (r["domain"] or "contacts", r["role"], r["subject"]): (r["operator"], r["level"])
        for r in doc["levels"]
    }


def history(
    old: dict[str, Any] | None, new: dict[str, Any], recomputed: dict[str, Any] | None, old_run: int | None
) -> list[dict[str, Any]]:
    """Changes from the previous assessed run, each marked ``reality`` or ``methodology`` (or ``both``).

    ``recomputed`` is the previous run's evidence assessed with today's KB and policy: where it already
    shows the new value, the change comes from the methodology/KB; where it still shows the old one, reality
    changed.
    """
    if old is None:
        return []
    before, after, redo = _dep_index(old), _dep_index(new), _dep_index(recomputed)
    changes = []

    def cause(old_value: Any, new_value: Any, redo_value: Any) -> str:
        if redo_value == new_value:
            return "methodology"
        if redo_value == old_value:
            return "reality"
        return "both"

    for key in sorted(set(before) | set(after)):
        was, now = before.get(key), after.get(key)
        if was == now:
            continue
        domain, role, subject = key
        if was is None:
            kind = "gained"
        elif now is None:
            kind = "lost"
        elif was[0] != now[0]:
            kind = "operator-changed"
        else:
            kind = "level-changed"
        changes.append(
            {
                "change": kind,
                "domain": domain,
                "role": role,
                "subject": subject,
                "before": {"operator": was[0], "level": was[1]} if was else None,
                "after": {"operator": now[0], "level": now[1]} if now else None,
                "cause": cause(was, now, redo.get(key)),
                "since_run": old_run,
            }
        )
    if old.get("score") != new.get("score"):
        changes.append(
            {
                "change": "score-changed",
                "before": old.get("score"),
                "after": new.get("score"),
                "cause": cause(old.get("score"), new.get("score"), (recomputed or {}).get("score")),
                "since_run": old_run,
            }
        )
    return changes


def _share(values: list[bool]) -> dict[str, Any]:
    n = len(values)
    yes = sum(values)
    return {"value": round(yes / n, 4) if n else None, "numerator": yes, "denominator": n}


def domain_indicators(checks: list[Any]) -> tuple[bool | None, bool | None, bool | None]:
    """A domain's (DMARC reject, DMARC enforced, DNSSEC validated) from its check records, compact or not;
    None where the domain is not in the indicator's sample (no decided DMARC policy on a domain that
    receives mail; DNSSEC neither passed nor failed)."""
    status = {rule: (st, detail) for rule, st, detail in map(check_view, checks)}
    pol, dkim, sec = status.get("MAIL-DMARC-POLICY"), status.get("MAIL-DKIM"), status.get("DNS-DNSSEC")
    reject = enforced = None
    if pol is not None and pol[0] != "unknown" and not (dkim and dkim[0] == "not-applicable"):
        reject, enforced = pol[0] == "pass" and pol[1] == "p=reject", pol[0] == "pass"
    dnssec = sec[0] == "pass" if sec is not None and sec[0] in ("pass", "fail") else None
    return reject, enforced, dnssec


class _Samples:
    """The programme indicators' samples, gathered one organisation at a time (no document is kept, and of an
    organisation only its région and département: memory does not grow with its size).

    Body indicators count each body once; domain indicators count each domain once per scope, even when
    several bodies share it (a domain shared by two communes of one département counts once there)."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[tuple[list[_Place], bool]]] = defaultdict(list)
        self.domains: dict[str, dict[str, tuple[list[_Place], bool]]] = defaultdict(dict)

    def _domain(self, indicator: str, domain: str, place: _Place, ok: bool) -> None:
        seen = self.domains[indicator].get(domain)
        if seen is None:
            self.domains[indicator][domain] = ([place], ok)
        else:
            seen[0].append(place)

    def add(self, org: Organisation, doc: dict[str, Any]) -> None:
        place = (org.territory.region, org.territory.departement)
        sensitive = [s for s in doc["services"] if SENSITIVE & set(s["data_classes"]) and s["level"]]
        if sensitive:
            ok = all(
                s["level"] == "qualified" or (s["observed"] == "self" and s["level"] == "european")
                for s in sensitive
            )
            self.bodies["sensitive-on-qualified"].append(([place], ok))
        boxes = [r for r in doc["levels"] if r["role"] == "mailbox" and r["level"] != "undetermined"]
        if boxes:
            self.bodies["mailboxes-eu-control"].append(
                ([place], all(r["level"] in ("qualified", "european") for r in boxes))
            )
        for name, domain in doc["hygiene"]["domains"].items():
            reject, enforced, dnssec = domain_indicators(domain["checks"])
            if reject is not None:
                self._domain("dmarc-reject", name, place, reject)
                self._domain("dmarc-enforced", name, place, bool(enforced))
            if dnssec is not None:
                self._domain("dnssec-validated", name, place, dnssec)

    def result(self, policy: Policy) -> dict[str, Any]:
        samples = {k: list(v) for k, v in self.bodies.items()}
        for indicator, domains in self.domains.items():
            samples.setdefault(indicator, []).extend(domains[name] for name in sorted(domains))
        out: dict[str, Any] = {}
        for ind in policy.indicators:
            rows = samples.get(ind["id"], [])
            regions: dict[str, list[bool]] = defaultdict(list)
            depts: dict[str, list[bool]] = defaultdict(list)
            for places, ok in rows:
                for code in sorted({region for region, _ in places if region}):
                    regions[code].append(ok)
                for code in sorted({dept for _, dept in places if dept}):
                    depts[code].append(ok)
            national = _share([ok for _, ok in rows])
            target = ind.get("target")
            out[ind["id"]] = {
                "title": ind["title"],
                "unit": ind["unit"],
                "target": target,
                "gap": round(target["value"] - national["value"], 4)
                if target and national["value"] is not None
                else None,
                "national": national,
                "regions": {k: _share(v) for k, v in sorted(regions.items())},
                "departements": {k: _share(v) for k, v in sorted(depts.items())},
            }
        return out


def trajectories(orgs: list[Organisation], docs: dict[str, dict[str, Any]], policy: Policy) -> dict[str, Any]:
    """Each indicator of the policy, measured nationally and per région and département (see _Samples)."""
    samples = _Samples()
    for org in orgs:
        doc = docs.get(org.siren)
        if doc is not None:
            samples.add(org, doc)
    return samples.result(policy)


class _Tally:
    """The run's aggregates (scores, levels, findings, trajectories), one organisation at a time."""

    def __init__(self) -> None:
        self.organisations = 0
        self.provisional = 0
        self.scores: list[float] = []
        self.levels: dict[str, Counter[str]] = defaultdict(Counter)
        self.findings: Counter[str] = Counter()
        self.samples = _Samples()

    def add(self, org: Organisation, doc: dict[str, Any]) -> None:
        self.organisations += 1
        self.provisional += bool(doc["provisional"])
        if doc["score"] is not None:
            self.scores.append(doc["score"])
        for r in doc["levels"]:
            self.levels[r["role"]][r["level"]] += 1
        for f in doc["findings"]:
            self.findings[f"{f['rule']}:{f['status']}"] += 1
        for rule, status in flagged(doc):  # a compact document's hygiene findings (assessment.document)
            self.findings[f"{rule}:{status}"] += 1
        self.samples.add(org, doc)

    def summary(self, policy: Policy) -> dict[str, Any]:
        scores = self.scores
        return {
            "methodology": policy.methodology,
            "organisations": self.organisations,
            "score": {
                "mean": round(statistics.fmean(scores), 1) if scores else None,
                "median": round(statistics.median(scores), 1) if scores else None,
                "provisional": self.provisional,
            },
            "levels": {role: dict(c) for role, c in sorted(self.levels.items())},
            "findings": dict(self.findings.most_common()),
            "trajectories": self.samples.result(policy),
        }


def assess_run(
    store: Store,
    run_id: int,
    kb: KB,
    networks: NetworkData,
    policy: Policy,
    *,
    on: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
    processes: int = 1,
    batch_size: int = BATCH,
) -> AssessmentResult:
    """Assess ``run_id`` from its latest attribution; history against the previous assessed run.

    ``processes`` ≥ 2 (Linux, more than one batch): a forked helper assesses every other batch while this
    process assesses the others and writes them all, in order (see ``_Helper``); one helper, whatever the
    number. Not for a process that runs other threads or an event loop (the web server): fork copies their
    locks as they are."""
    attribution = store.latest_attribution(run_id)
    if attribution is None:
        raise InputError(f"run {run_id}: not attributed yet; run: souverain reassess {run_id}")
    on = on or dt.date.fromisoformat(attribution["as_of"])
    assessor = Assessor(kb, policy, Leveller(kb, policy, on))
    current = _RunReader(store, run_id, attribution["id"])
    previous = store.previous_run_with_assessment(run_id)
    before: _PreviousRun | None = None
    if previous is not None:
        old = store.latest_assessment(previous)
        assert old is not None
        old_on = dt.date.fromisoformat(old["as_of"])
        before = _PreviousRun(store, previous, old["id"], kb, networks, policy, old_on)
    tally = _Tally()

    def assess_batch(batch: list[Organisation]) -> list[dict[str, Any]]:
        evidence, by_domain, by_siren = current.read(batch)
        docs = _assess_all(batch, evidence, by_domain, by_siren, assessor)
        old_docs, redo = before.read(batch) if before is not None else ({}, {})
        for org in batch:
            doc = docs[org.siren]
            doc["history"] = (
                history(old_docs.get(org.siren), doc, redo.get(org.siren), previous)
                if before is not None
                else []
            )
        return [docs[org.siren] for org in batch]

    def documents(helper: _Helper | None) -> Iterator[dict[str, Any]]:
        # organisations are read, assessed and written in batches: memory does not grow with the run
        for index, batch in enumerate(store.run_organisation_batches(run_id, batch_size)):
            docs = helper.take(batch) if helper is not None and helper.helps(index) else None
            for org, doc in zip(batch, assess_batch(batch) if docs is None else docs, strict=True):
                tally.add(org, doc)
                yield doc
            if progress is not None:
                progress(len(batch))

    with frozen_heap():
        helper = None
        if processes > 1 and store.count_run_organisations(run_id) > batch_size:
            helper = _Helper.start(store, run_id, batch_size, assess_batch)
        try:
            assessment_id = store.save_assessment(
                run_id,
                attribution["id"],
                policy.methodology,
                attribution["kb_version"],
                on.isoformat(),
                lambda: tally.summary(policy),
                documents(helper),
            )
        finally:
            if helper is not None:
                helper.stop()
    summary = store.assessment_summary(assessment_id) or {}
    helped = helper.batches if helper is not None else 0
    return AssessmentResult(assessment_id, policy.methodology, tally.organisations, summary, helped)
