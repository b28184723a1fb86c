"""Stand-ins for the Git platforms: local servers that answer like GitHub (``standins.github``),
for the tests, the demo, the benchmarks and trying ``taskorch sync`` by hand.

They are tools of this repository, not part of the installed ``taskorch`` package: run them from
the repository's root (``python -m standins ...``) or with the root on ``PYTHONPATH``.
"""
