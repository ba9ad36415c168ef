"""vidgen: a self-hosted video-generation API server."""

__all__ = ["__version__"]

__version__ = "0.1.0"
