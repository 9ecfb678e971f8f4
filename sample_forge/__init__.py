"""sample-forge: find or build the one training problem that teaches a base model the most."""

from sample_forge.errors import SampleForgeError
from sample_forge.records import Problem

__version__ = "0.1.0"
__all__ = ["Problem", "SampleForgeError", "__version__"]
