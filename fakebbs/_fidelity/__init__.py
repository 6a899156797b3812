"""Recordings of a real BBS: the recording format, the recording proxy and the replay."""
