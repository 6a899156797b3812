"""Builders for valid models, so each test states only what it is about."""

from __future__ import annotations

from google.protobuf.message import Message

from fakebbs import models


def desired_lrp(process_guid: str = "my-guid", **fields: object) -> models.DesiredLRP:
    """A valid current-format DesiredLRP (metric tags included, as desire.r2 requires)."""
    lrp = models.DesiredLRP(
        process_guid=process_guid,
        domain="cf-apps",
        root_fs="preloaded:cflinuxfs4",
        instances=2,
        memory_mb=256,
        disk_mb=1024,
        log_guid="log-" + process_guid,
        action=models.Action(run_action=models.RunAction(path="/bin/app", user="vcap")),
    )
    lrp.metric_tags["source_id"].static = "log-" + process_guid
    for name, value in fields.items():
        if isinstance(value, Message):
            getattr(lrp, name).CopyFrom(value)
        elif isinstance(value, list):
            getattr(lrp, name).extend(value)
        else:
            setattr(lrp, name, value)
    return lrp
