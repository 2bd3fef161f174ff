"""vade_tf's benchmarks, run from the repository root with `python -m`."""
