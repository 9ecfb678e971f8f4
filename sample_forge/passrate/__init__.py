"""Pass rate of a pool on the model to be trained (no pilot run): ``pass_rates`` samples and checks,
``calibrate`` compares the result with a pilot's scores. See docs/passrate.md."""

from __future__ import annotations

from sample_forge.passrate.run import (
    RATE_COLUMNS,
    PassRateConfig,
    PassRateResult,
    PoolRead,
    Progress,
    extract_answer,
    pass_rates,
    read_pool,
)
from sample_forge.passrate.stats import beta_interval, learnability, pass_at_k

__all__ = [
    "PassRateConfig",
    "PassRateResult",
    "PoolRead",
    "Progress",
    "RATE_COLUMNS",
    "pass_rates",
    "read_pool",
    "extract_answer",
    "beta_interval",
    "pass_at_k",
    "learnability",
]
