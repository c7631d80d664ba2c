"""The release, in a module of its own so that anything may read it without importing the app."""

__version__ = "0.1.0"
