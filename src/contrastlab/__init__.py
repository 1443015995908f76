"""contrastlab: an experiment runner for learning from contrasts.

Importing this package imports no torch, transformers or TRL: `run.py --help` stays fast.
"""

__version__ = "0.1.0"
