"""Recordings of a real BBS: the recording format, the recording proxy and the replay.

``recording`` (the format and its normalization) is below everything; ``differences`` and
``replay_transport`` below ``replay``; ``recorder`` the recording proxy; ``cli`` the ``fakebbs
record`` and ``fakebbs replay`` commands.
"""
