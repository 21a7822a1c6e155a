"""benchmarks/sweep: scaling sweeps of the tools over a grid of settings (see cli.py)."""
