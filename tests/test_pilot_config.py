"""``run_pilot(config=...)``: the given config wins over the defaults; explicit settings override it.
Checked without training: the settings are validated, and a resumed run compared, before any model loads."""

from __future__ import annotations

import json

import pytest

from sample_forge.errors import SampleForgeError
from sample_forge.pilot.trl_pilot import PilotConfig, pilot_config, run_pilot


def test_given_config_wins_and_explicit_settings_override_it():
    cfg = PilotConfig(epochs=1, rollouts=4, temperature=0.7)
    assert pilot_config(cfg) == cfg
    assert pilot_config(cfg, epochs=None, rollouts=None) == cfg  # not given: the config's own
    got = pilot_config(cfg, rollouts=16, seed=3)
    assert (got.epochs, got.rollouts, got.temperature, got.seed) == (1, 16, 0.7, 3)
    assert pilot_config(None) == PilotConfig()
    with pytest.raises(SampleForgeError, match="unknown pilot setting"):
        pilot_config(cfg, rolouts=2)


def test_run_pilot_uses_the_given_config(tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text(
        "".join(
            json.dumps({"id": f"s{i}", "problem": f"{i}+1?", "answer": str(i + 1)}) + "\n" for i in range(3)
        )
    )
    # the old code replaced these by the defaults 3 and 8 and went on to train
    with pytest.raises(SampleForgeError, match="--rollouts must be >= 2"):
        run_pilot(pool, out=tmp_path / "a", config=PilotConfig(rollouts=1))
    with pytest.raises(SampleForgeError, match="--epochs must be >= 1"):
        run_pilot(pool, out=tmp_path / "a", config=PilotConfig(epochs=0))
    # a resumed run is checked against the settings actually used: config's, then the explicit ones
    out = tmp_path / "run"
    out.mkdir()
    (out / "trajectory.jsonl").write_text("")
    (out / "pilot.json").write_text(json.dumps({"rollouts": 99, "n_samples": 3}))
    with pytest.raises(SampleForgeError, match=r"rollouts \(99 vs 4\)"):
        run_pilot(pool, out=out, config=PilotConfig(rollouts=4), resume=True)
    with pytest.raises(SampleForgeError, match=r"rollouts \(99 vs 6\)"):
        run_pilot(pool, None, None, 6, out, config=PilotConfig(rollouts=4), resume=True)
