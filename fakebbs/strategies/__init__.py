"""Hypothesis strategies for the BBS protocol: every model, request, response and event; one
invalid variant per validation rule; fault schedules a route can really answer; event
sequences that happened; the stored form of a desired LRP; and a state machine to build on,
runnable against a fake or a BBS URL.

Needs the ``hypothesis`` extra (``pip install 'fakebbs[hypothesis]'``); the fake itself never
imports Hypothesis. Installing the extra also registers every message class of
``fakebbs.models`` with ``st.from_type``.

Valid strategies are valid by construction: the fake (and a real BBS) accepts everything they
draw, and stores it as sent. Invalid ones break exactly one validation rule and say which text
the InvalidRequest carries. For example::

    from hypothesis import given
    from hypothesis import strategies as st
    from fakebbs import strategies

    @given(strategies.desired_lrps(domain="cf-apps", instances=st.integers(1, 3)))
    def test_my_scheduler_sees_every_lrp(lrp): ...

    @given(strategies.invalid_desired_lrp_requests())
    def test_my_client_reports_each_refusal(case): ...  # case.route, case.request, case.error
"""

from __future__ import annotations

from fakebbs._rules.wire import message_classes
from fakebbs.strategies._actions import (
    ACTION_KINDS,
    LEAF_ACTION_KINDS,
    actions,
    checksums,
    environment_variables,
    files,
)
from fakebbs.strategies._actual import (
    ACTUAL_LRP_STATES,
    actual_lrp_groups,
    actual_lrp_infos,
    actual_lrp_instance_keys,
    actual_lrp_keys,
    actual_lrp_net_infos,
    actual_lrps,
    cell_ids,
    cell_presences,
    instance_metric_tags,
    internal_routes,
)
from fakebbs.strategies._common import guids, register_pretty_printers, root_fs_urls, route_json
from fakebbs.strategies._compare import stored_form
from fakebbs.strategies._desired import (
    cached_dependencies,
    certificate_properties,
    check_definitions,
    checks,
    desired_lrp_keys,
    desired_lrp_updates,
    desired_lrps,
    domains,
    egress_rules,
    image_layers,
    log_rate_limits,
    metric_tags,
    modification_tags,
    networks,
    process_guids,
    proto_routes,
    sidecars,
    stored_desired_lrps,
    volume_mounts,
)
from fakebbs.strategies._events import events
from fakebbs.strategies._faults import (
    RAN_ANYWAY,
    TRANSIENT_FAULTS,
    TRANSPORT_FAULTS,
    FaultSchedule,
    FaultSpec,
    fault_schedules,
    transport_faults,
)
from fakebbs.strategies._invalid import (
    DESIRED_LRP_RULES,
    LRP_REQUEST_RULES,
    TASK_RULES,
    InvalidRequestCase,
    broken_actions,
    invalid_desired_lrp_requests,
    invalid_lrp_requests,
    invalid_task_requests,
    typed_client_can_send,
)
from fakebbs.strategies._machine import (
    FAKE_ONLY_RULES,
    RULE_GROUPS,
    BBSStateMachine,
    CallOutcome,
)
from fakebbs.strategies._messages import (
    SERVER_ERRORS,
    bbs_errors,
    from_message_type,
    message_types,
    requests,
    responses,
)
from fakebbs.strategies._routes import cf_router_routes, tcp_router_routes
from fakebbs.strategies._sequences import EVENT_STREAMS, event_sequences
from fakebbs.strategies._tasks import (
    TASK_STATES,
    desire_task_requests,
    task_definitions,
    task_guids,
    tasks,
)
from fakebbs.strategies._world import Instance, counting_guids

__all__ = [
    "ACTION_KINDS",
    "ACTUAL_LRP_STATES",
    "DESIRED_LRP_RULES",
    "EVENT_STREAMS",
    "LEAF_ACTION_KINDS",
    "LRP_REQUEST_RULES",
    "SERVER_ERRORS",
    "RAN_ANYWAY",
    "TRANSIENT_FAULTS",
    "TRANSPORT_FAULTS",
    "BBSStateMachine",
    "FAKE_ONLY_RULES",
    "Instance",
    "RULE_GROUPS",
    "CallOutcome",
    "FaultSchedule",
    "FaultSpec",
    "TASK_RULES",
    "TASK_STATES",
    "InvalidRequestCase",
    "actions",
    "actual_lrp_groups",
    "actual_lrp_infos",
    "actual_lrp_instance_keys",
    "actual_lrp_keys",
    "actual_lrp_net_infos",
    "actual_lrps",
    "bbs_errors",
    "broken_actions",
    "cached_dependencies",
    "cell_ids",
    "cell_presences",
    "cf_router_routes",
    "certificate_properties",
    "check_definitions",
    "checks",
    "checksums",
    "counting_guids",
    "desire_task_requests",
    "desired_lrp_keys",
    "desired_lrp_updates",
    "desired_lrps",
    "domains",
    "egress_rules",
    "environment_variables",
    "event_sequences",
    "events",
    "fault_schedules",
    "files",
    "from_message_type",
    "guids",
    "image_layers",
    "instance_metric_tags",
    "internal_routes",
    "invalid_desired_lrp_requests",
    "invalid_lrp_requests",
    "invalid_task_requests",
    "log_rate_limits",
    "message_types",
    "metric_tags",
    "modification_tags",
    "networks",
    "process_guids",
    "proto_routes",
    "requests",
    "responses",
    "root_fs_urls",
    "route_json",
    "sidecars",
    "stored_desired_lrps",
    "stored_form",
    "task_definitions",
    "task_guids",
    "tcp_router_routes",
    "tasks",
    "transport_faults",
    "typed_client_can_send",
    "volume_mounts",
]

register_pretty_printers(message_classes())
