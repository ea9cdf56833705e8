"""regauto's benchmarks: ``python -m benchmarks [--quick] [NAME…]`` prints one table.

Each ``bench_<name>.py`` module exposes ``run(quick: bool) -> list[Row]``.  Targets are
reported (met or not), never asserted: speed is measured here, not in the tests.
"""
