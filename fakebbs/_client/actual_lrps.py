"""The actual LRP calls of ``BBSClient``: queries, the rep's lifecycle calls and evacuation
(upstream ``client.go``'s actual LRP methods, in snake case)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fakebbs import models
from fakebbs._client.base import ClientBase, raise_error_field, running_request

__all__ = ["ActualLRPCalls"]

# What upstream's doEvacRequest returns as keep_container when the request itself fails.
_KEEP_CONTAINER = True
_DELETE_CONTAINER = False


class ActualLRPCalls(ClientBase):
    """``BBSClient``'s actual LRP methods: queries, the lifecycle calls, evacuation."""

    # -- actual LRP queries --------------------------------------------------------------------

    def actual_lrps(
        self,
        *,
        domain: str = "",
        cell_id: str = "",
        process_guid: str = "",
        index: int | None = None,
        trace_id: str = "",
    ) -> list[models.ActualLRP]:
        """Actual LRPs matching all the given filters (``index=0`` filters on index 0)."""
        request = models.ActualLRPsRequest(
            domain=domain, cell_id=cell_id, process_guid=process_guid
        )
        if index is not None:
            request.index = index
        response = self._call("ActualLRPs", request, models.ActualLRPsResponse, trace_id)
        return list(response.actual_lrps)

    def actual_lrps_by_process_guids(
        self, process_guids: Iterable[str], *, trace_id: str = ""
    ) -> list[models.ActualLRP]:
        """Actual LRPs of the given process guids."""
        request = models.ActualLRPsByProcessGuidsRequest(process_guids=list(process_guids))
        response = self._call(
            "ActualLRPsByProcessGuids", request, models.ActualLRPsByProcessGuidsResponse, trace_id
        )
        return list(response.actual_lrps)

    def actual_lrp_groups(
        self, *, domain: str = "", cell_id: str = "", trace_id: str = ""
    ) -> list[models.ActualLRPGroup]:
        """Deprecated upstream: actual LRPs folded into groups."""
        request = models.ActualLRPGroupsRequest(domain=domain, cell_id=cell_id)
        response = self._call("ActualLRPGroups", request, models.ActualLRPGroupsResponse, trace_id)
        return list(response.actual_lrp_groups)

    def actual_lrp_groups_by_process_guid(
        self, process_guid: str, *, trace_id: str = ""
    ) -> list[models.ActualLRPGroup]:
        """Deprecated upstream: the groups of one process guid."""
        request = models.ActualLRPGroupsByProcessGuidRequest(process_guid=process_guid)
        response = self._call(
            "ActualLRPGroupsByProcessGuid", request, models.ActualLRPGroupsResponse, trace_id
        )
        return list(response.actual_lrp_groups)

    def actual_lrp_group_by_process_guid_and_index(
        self, process_guid: str, index: int, *, trace_id: str = ""
    ) -> models.ActualLRPGroup:
        """Deprecated upstream: the group of one instance index."""
        request = models.ActualLRPGroupByProcessGuidAndIndexRequest(
            process_guid=process_guid, index=index
        )
        response = self._call(
            "ActualLRPGroupsByProcessGuidAndIndex", request, models.ActualLRPGroupResponse, trace_id
        )
        return response.actual_lrp_group

    # -- actual LRP lifecycle ------------------------------------------------------------------

    def claim_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        *,
        trace_id: str = "",
    ) -> None:
        """Claim an instance for a cell (only the key's process guid and index are sent)."""
        request = models.ClaimActualLRPRequest(
            process_guid=key.process_guid, index=key.index, actual_lrp_instance_key=instance_key
        )
        self._call("ClaimActualLRP", request, models.ActualLRPLifecycleResponse, trace_id)

    def start_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        net_info: models.ActualLRPNetInfo,
        *,
        internal_routes: Iterable[models.ActualLRPInternalRoute] = (),
        metric_tags: Mapping[str, str] | None = None,
        routable: bool = True,
        availability_zone: str = "",
        trace_id: str = "",
    ) -> None:
        """Mark an instance running; falls back to ``start`` (r0) where ``start.r1`` is a 404."""
        request = running_request(
            models.StartActualLRPRequest(),
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        )
        # upstream StartActualLRP: an older BBS gets only the key, instance key and net info
        fallback = models.StartActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key, actual_lrp_net_info=net_info
        )
        response = self._exchange_falling_back(
            "StartActualLRP", request, trace_id, ("StartActualLRP_r0", fallback)
        )
        raise_error_field(response)

    def crash_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        error_message: str,
        *,
        trace_id: str = "",
    ) -> None:
        """Report a crashed instance."""
        request = models.CrashActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key, error_message=error_message
        )
        self._call("CrashActualLRP", request, models.ActualLRPLifecycleResponse, trace_id)

    def fail_actual_lrp(
        self, key: models.ActualLRPKey, error_message: str, *, trace_id: str = ""
    ) -> None:
        """Record a placement failure on an unclaimed instance."""
        request = models.FailActualLRPRequest(actual_lrp_key=key, error_message=error_message)
        self._call("FailActualLRP", request, models.ActualLRPLifecycleResponse, trace_id)

    def remove_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey | None = None,
        *,
        trace_id: str = "",
    ) -> None:
        """Delete an instance row; with ``instance_key`` only if it still matches."""
        request = models.RemoveActualLRPRequest(process_guid=key.process_guid, index=key.index)
        if instance_key is not None:
            request.actual_lrp_instance_key.CopyFrom(instance_key)
        self._call("RemoveActualLRP", request, models.ActualLRPLifecycleResponse, trace_id)

    def retire_actual_lrp(self, key: models.ActualLRPKey, *, trace_id: str = "") -> None:
        """Stop an instance without touching the desired state."""
        request = models.RetireActualLRPRequest(actual_lrp_key=key)
        self._call("RetireActualLRP", request, models.ActualLRPLifecycleResponse, trace_id)

    # -- evacuation ----------------------------------------------------------------------------
    #
    # These return the server's keep_container. On failure they raise, and the exception carries
    # ``keep_container`` as the Go client would have returned it alongside the error: the
    # response's value for a decoded error, otherwise upstream's per-call default.

    def evacuate_claimed_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        *,
        trace_id: str = "",
    ) -> bool:
        """Evacuate a claimed instance; returns keep_container."""
        request = models.EvacuateClaimedActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key
        )
        return self._evacuate("EvacuateClaimedActualLRP", request, _KEEP_CONTAINER, trace_id)

    def evacuate_running_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        net_info: models.ActualLRPNetInfo,
        *,
        internal_routes: Iterable[models.ActualLRPInternalRoute] = (),
        metric_tags: Mapping[str, str] | None = None,
        routable: bool = True,
        availability_zone: str = "",
        trace_id: str = "",
    ) -> bool:
        """Evacuate a running instance; falls back to the r0 route where r1 is a 404."""
        request = running_request(
            models.EvacuateRunningActualLRPRequest(),
            key,
            instance_key,
            net_info,
            internal_routes,
            metric_tags,
            routable,
            availability_zone,
        )
        fallback = models.EvacuateRunningActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key, actual_lrp_net_info=net_info
        )
        return self._evacuate(
            "EvacuateRunningActualLRP",
            request,
            _KEEP_CONTAINER,
            trace_id,
            fallback=("EvacuateRunningActualLRP_r0", fallback),
        )

    def evacuate_stopped_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        *,
        trace_id: str = "",
    ) -> bool:
        """Evacuate a stopped instance; returns keep_container."""
        request = models.EvacuateStoppedActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key
        )
        return self._evacuate("EvacuateStoppedActualLRP", request, _DELETE_CONTAINER, trace_id)

    def evacuate_crashed_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        error_message: str,
        *,
        trace_id: str = "",
    ) -> bool:
        """Evacuate a crashed instance; returns keep_container."""
        request = models.EvacuateCrashedActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key, error_message=error_message
        )
        return self._evacuate("EvacuateCrashedActualLRP", request, _DELETE_CONTAINER, trace_id)

    def remove_evacuating_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        *,
        trace_id: str = "",
    ) -> None:
        """Delete an evacuating row."""
        request = models.RemoveEvacuatingActualLRPRequest(
            actual_lrp_key=key, actual_lrp_instance_key=instance_key
        )
        self._call(
            "RemoveEvacuatingActualLRP", request, models.RemoveEvacuatingActualLRPResponse, trace_id
        )
