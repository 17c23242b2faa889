"""Python runtime of auto-research probe.

Setup copies this package into each research project as `src/<pkg>/probe_runtime/`,
so modules here import each other only with relative imports. The heavy modules
(`models`, `cache`, `logit_lens`) import torch and transformer_lens when they are
imported themselves, never from this file, so `stats`, `events`, `results` and
`datasets` stay cheap to import.
"""

FORMAT_VERSION = 2
"""Version of the activation cache's on-disk format (`cache.py`). It is part of every cache key."""
