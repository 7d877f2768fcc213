"""souverain: observatory of digital sovereignty and security for public bodies."""

__version__ = "0.1.0"

__all__ = ["__version__"]
