"""SimScale's Python tools: figures of the tools' outputs (simscale.plot) and the benchmark
sweeps (benchmarks/sweep). The C++ tools are the toolkit; these read what they write."""
