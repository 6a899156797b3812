"""The simulated Diego ``fakebbs serve`` sets up: ``--cells`` and a seed file's ``diego``
section, checked in a throwaway fake before anything is served (it needs a whole ``FakeBBS``,
so it lives above ``fakebbs._diego``)."""

from __future__ import annotations

import json

from fakebbs._diego.config import DiegoConfig, default_cells, parse_config
from fakebbs._fake import FakeBBS

__all__ = ["load_config"]


def load_config(cells: int, seed_file: str | None) -> DiegoConfig:
    """What ``fakebbs serve`` sets up: ``--cells`` default cells after a seed file's
    ``diego`` cells. Checked by setting it up in a throwaway fake; a ValueError says what is
    wrong, before anything is served."""
    config = DiegoConfig()
    if seed_file is not None:
        with open(seed_file, encoding="utf-8") as file:  # already read and checked as JSON
            document = json.load(file)
        if isinstance(document, dict) and "diego" in document:
            config = parse_config(document["diego"], f"seed file {seed_file}")
    if cells:
        config = config.with_cells(default_cells(cells))
    if config:
        trial = FakeBBS()
        try:
            config.apply(trial.diego)
        except ValueError as exc:
            raise ValueError(f"simulated cells: {exc}") from None
        finally:
            trial.reset()
    return config
