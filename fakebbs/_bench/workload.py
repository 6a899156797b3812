"""What the benchmark sends: the same request bytes to every server timed."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from fakebbs import models
from fakebbs.routes import route


@dataclass(frozen=True)
class Request:
    label: str
    method: str
    path: str
    body: bytes


def make_request(label: str, route_name: str, message: Message | None = None) -> Request:
    target = route(route_name)
    body = b"" if message is None else message.SerializeToString()
    return Request(label, target.method, target.path, body)


def desired_lrp(process_guid: str, instances: int = 1) -> models.DesiredLRP:
    """A desired LRP of a realistic size (routes, metric tags, a run action)."""
    lrp = models.DesiredLRP(
        process_guid=process_guid,
        domain="cf-apps",
        root_fs="preloaded:cflinuxfs4",
        instances=instances,
        memory_mb=256,
        disk_mb=1024,
        log_guid=process_guid,
        ports=[8080],
        action=models.Action(run_action=models.RunAction(path="/bin/app", user="vcap")),
    )
    lrp.metric_tags["source_id"].static = process_guid
    lrp.routes.routes["cf-router"] = b'[{"hostnames":["%s.example.com"],"port":8080}]' % (
        process_guid.encode()
    )
    return lrp


def task_definition() -> models.TaskDefinition:
    return models.TaskDefinition(
        root_fs="preloaded:cflinuxfs4",
        memory_mb=256,
        action=models.Action(run_action=models.RunAction(path="/bin/task", user="vcap")),
    )


_CALLS = ("ping", "desire", "get by guid", "update", "actual LRPs of one guid", "claim", "start")


_CALLS_AFTER = ("remove", "task desire")


CALL_LABELS = _CALLS + _CALLS_AFTER


def call_sequence(prefix: str, i: int) -> list[Request]:
    """Iteration ``i`` of the per-call figures: one of each call, on a fresh LRP and task."""
    guid = f"{prefix}-{i}"
    key = models.ActualLRPKey(process_guid=guid, index=0, domain="cf-apps")
    instance = models.ActualLRPInstanceKey(instance_guid=f"{guid}-i", cell_id="cell-1")
    update = models.DesiredLRPUpdate(instances=1, annotation=f"update-{i}")
    start = models.StartActualLRPRequest(
        actual_lrp_key=key,
        actual_lrp_instance_key=instance,
        actual_lrp_net_info=models.ActualLRPNetInfo(
            address="10.0.0.1", instance_address="10.2.0.1"
        ),
    )
    start.Routable = True
    claim = models.ClaimActualLRPRequest(
        process_guid=guid, index=0, actual_lrp_instance_key=instance
    )
    task = models.DesireTaskRequest(
        task_guid=f"task-{guid}", domain="cf-apps", task_definition=task_definition()
    )
    by_guid = models.DesiredLRPByProcessGuidRequest(process_guid=guid)
    return [
        make_request("ping", "Ping"),
        make_request(
            "desire", "DesireDesiredLRP", models.DesireLRPRequest(desired_lrp=desired_lrp(guid))
        ),
        make_request("get by guid", "DesiredLRPByProcessGuid", by_guid),
        make_request(
            "update",
            "UpdateDesireLRP",
            models.UpdateDesiredLRPRequest(process_guid=guid, update=update),
        ),
        make_request(
            "actual LRPs of one guid", "ActualLRPs", models.ActualLRPsRequest(process_guid=guid)
        ),
        make_request("claim", "ClaimActualLRP", claim),
        make_request("start", "StartActualLRP", start),
        make_request(
            "remove", "RemoveDesiredLRP", models.RemoveDesiredLRPRequest(process_guid=guid)
        ),
        make_request("task desire", "DesireTask", task),
    ]
