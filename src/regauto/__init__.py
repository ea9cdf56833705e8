"""regauto: keeps a repository's unified registry true."""

__version__ = "0.1.0"
