"""``pump bench``: send modes and producer settings compared side by side against a cluster.

``matrix`` lists the combinations and the order of the runs, ``runs`` runs one as a whole
``pump replay`` process, ``summary`` makes the table and the JSON report, ``command`` ties them
together (a topic of its own, the input, the cluster check).
"""

from pump.bench.command import BenchSettings, run_bench

__all__ = ("BenchSettings", "run_bench")
