"""The benchmark harness (``make bench``): a grown business's dataset, each step of the
main job timed against a baseline taken in the same run, figures written to ``reports/bench/``."""
