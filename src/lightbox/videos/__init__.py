"""Videos and reels: camera motion over the team's images, ordered like any record.

``providers`` (who renders), ``service`` (ordering, listing), ``routes`` (HTTP)
and ``render`` (the worker's side, dispatched from ``generation.render``).
"""
