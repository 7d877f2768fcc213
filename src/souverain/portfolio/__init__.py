"""What to scan: organisations, their domains, contacts and declared services."""

from souverain.portfolio.load import load_portfolio
from souverain.portfolio.model import DeclaredService, Domain, Organisation, Territory

__all__ = ["DeclaredService", "Domain", "Organisation", "Territory", "load_portfolio"]
