"""Probes registered in one registry; each returns Evidence and never raises on a misbehaving target."""

from souverain.probes import dns, http, mail, origin, page, tenant, tls  # noqa: F401  (registration)
from souverain.probes.base import REGISTRY, ProbeContext, ProbeSpec, register, run_guarded
from souverain.probes.runner import run_target

__all__ = ["REGISTRY", "ProbeContext", "ProbeSpec", "register", "run_guarded", "run_target"]
