"""vidgen: a self-hosted video-generation API server."""

__version__ = "0.1.0"
