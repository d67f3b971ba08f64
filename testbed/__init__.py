"""A testbed that watches coding agents get frustrated."""

__version__ = "0.1.0"
