"""Benchmarks, run as ``python -m siri_verl.bench <command>`` (see ``__main__`` for the list)."""
