"""The parts of ``python -m fakebbs.stress``: ``ledger`` (what the server acknowledged and how
it is checked), ``workers`` (the threads of the load) and ``server`` (the child process)."""
