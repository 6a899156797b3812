"""The parts of ``fakebbs.client``: ``transport`` (connections, retries, the mapping of an
answer), ``events`` (reading an event stream), ``base`` (what every call shares) and
``actual_lrps`` (the actual LRP calls); ``BBSClient`` itself stays in ``fakebbs.client``."""
