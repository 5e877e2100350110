"""The benchmark harness of issue 7 (``make bench``): a grown business's dataset, each step of the
main job timed against a baseline taken in the same run, figures written to ``reports/bench/``."""
