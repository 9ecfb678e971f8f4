"""Thin click layer: each command group lives in its own module and is imported on first use."""
