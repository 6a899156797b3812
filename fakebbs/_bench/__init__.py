"""The parts of ``python -m fakebbs.bench``: ``figures`` (what is measured and printed),
``workload`` (the requests sent), ``servers`` (the servers timed and their baselines), and one
module per section (``calls``, ``lists``, ``throughput``, ``fixtures``, ``load``, ``diego``;
``strategies``, which needs the hypothesis extra)."""
