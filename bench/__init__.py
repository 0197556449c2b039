"""ticketsim's benchmarks: each module prints JSON and a table, reusing the library's metrics.

Run one as ``python -m bench.<name>`` from the repository root, all of them with
``python -m bench.run_all`` (``make bench``). Not part of the test run.
"""
