"""``python -m fakebbs``: the same as the ``fakebbs`` command."""

from __future__ import annotations

from fakebbs.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
