"""oanm's benchmarks: a synthetic county of 1M addresses, and oanm measured against raw SQL.

`python -m bench` (or `make bench`) builds the county once in its own database, then runs
every registered row and prints oanm's figure, its goal and the raw SQL figure measured in
the same run. docs/benchmarks.md says what each row means.
"""
