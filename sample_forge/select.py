"""``sample_forge.select``: the selection rules (kept under this name for docs/design.md's layout);
the code lives in :mod:`sample_forge.selection`."""

from sample_forge.selection import (
    RULES,
    PolymathConfig,
    Selection,
    TopConfig,
    select,
    select_polymath,
    select_prime,
    select_top,
)

__all__ = ["RULES", "PolymathConfig", "Selection", "TopConfig", "select", "select_polymath", "select_prime",
           "select_top"]
