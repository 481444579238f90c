"""Benchmarks of the project: the reference service's throughput and the suite's time to verdict."""
