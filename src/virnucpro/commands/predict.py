"""`virnucpro predict`: the whole method (the orchestrator is `pipeline/run.py`)."""

from __future__ import annotations

from virnucpro.pipeline.run import PredictConfig, RandomWeights, run

__all__ = ["PredictConfig", "RandomWeights", "run"]
