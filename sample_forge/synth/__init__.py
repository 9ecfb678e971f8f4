"""Synthesis of prime samples: generation, validation checks, decontamination (the prime pick is
``sample_forge.selection.prime``).

from sample_forge.synth import SynthConfig, synthesize
run = synthesize(SynthConfig(skills=("Algebra",), n=8, generators=("m1",), solvers=("m1", "m2")))
"""

from __future__ import annotations

from sample_forge.synth.pipeline import SynthConfig, SynthRun, synthesize

__all__ = ["SynthConfig", "SynthRun", "synthesize"]
