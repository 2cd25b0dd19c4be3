"""pytest-benchmark suites (``bench_*.py``) and, later, the comparative report."""
