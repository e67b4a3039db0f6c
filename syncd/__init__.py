"""syncd: a local-first keep-in-touch daemon."""

__version__ = "0.1.0"
