"""The lab: a deterministic simulated internet on 127.0.0.0/8 with real servers (nsd, unbound, nginx)."""

from souverain.lab.control import LabInfo, down, status, up
from souverain.lab.errors import LabError

__all__ = ["LabError", "LabInfo", "down", "status", "up"]
