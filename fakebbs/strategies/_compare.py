"""What the BBS keeps of what a client sent, to compare the two without hand-written
normalization."""

from __future__ import annotations

from fakebbs import models
from fakebbs._http.versions import desired_lrp_version_down_to, populate_metrics_guid
from fakebbs._rules.views import as_stored

__all__ = ["stored_form"]


def stored_form(desired_lrp: models.DesiredLRP) -> models.DesiredLRP:
    """The desired LRP as the BBS stores it and returns it from the current routes, but for
    the ``modification_tag`` the server assigns (left empty): route JSON compacted the way
    Go's ``json.Compact`` does, ``routes`` present (empty when none were sent), each
    container port once, no ``deprecated_start_timeout_s``, and ``metrics_guid`` and the
    ``source_id`` metric tag filled from each other (``PopulateMetricsGuid``).

    ``assert without_tag(bbs.desired_lrp_by_process_guid(guid)) == stored_form(sent)`` holds
    for every valid LRP a client desires. A route value that is not JSON raises
    ``InvalidRequest``, as the BBS answers it.
    """
    stored = as_stored(desired_lrp)
    stored.ClearField("modification_tag")
    return populate_metrics_guid(desired_lrp_version_down_to(stored, 3))
