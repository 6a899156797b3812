"""The BBS's state and rules, free of HTTP: the store (plain dicts, one lock, one change
record), the rule families over it, the views of stored rows and request validation."""
