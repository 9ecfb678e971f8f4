"""Self-contained HTML report of a forge run directory."""

from sample_forge.report.html import build_report

__all__ = ["build_report"]
