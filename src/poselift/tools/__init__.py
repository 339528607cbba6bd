"""Tools built on the library: benchmarks, the demo, and the work of ``evaluate`` and ``render``."""
