"""Figures of the tools' outputs: `simscale-plot train|ppo|dataset|eval|sweep` (see cli.py)."""
