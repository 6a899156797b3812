"""``State``: every rule family of the BBS composed over one ``Store``.

The store is the data (plain dictionaries, one lock, every write a recorded change); each rule
family is a class that takes the store, and the families it calls, as its constructor's
arguments: ``DesiredLRPRules`` (desired LRPs and the actual LRP queries, ``_rules.desired``),
``ActualLRPLifecycle`` (claim, start, crash, fail, remove, unclaim, retire),
``Evacuation``, ``TaskRules``, ``DomainRules`` (domains and cells) and ``Convergence``.

Rules mirror upstream's handlers, controllers and ``db/sqldb``; each names the function it
follows. They know nothing of HTTP. Every rule runs as one ``Store.operation`` under the lock
and validates or computes everything before it writes, so a call either applies whole or changes
nothing, concurrent callers never lose a write, and every change is recorded for the event
streams. Messages handed out are copies: nothing a caller does to one changes the state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from fakebbs import models
from fakebbs._rules.convergence import Convergence, LRPConvergence, TaskConvergence
from fakebbs._rules.desired import DesiredLRPRules
from fakebbs._rules.domains import DomainRules
from fakebbs._rules.evacuation import Evacuation
from fakebbs._rules.lifecycle import ActualLRPLifecycle
from fakebbs._rules.store import ActualKey, Store
from fakebbs._rules.tasks import DEFAULT_MAX_TASK_RETRIES, TaskRules

__all__ = ["State"]


class State:
    """All BBS state of one fake and the rules over it. Two states share nothing.

    ``store`` is the data; the rule families are its other attributes, each built once here
    over the store. Every family's rules are also ``State``'s own methods, which call the
    family's: the one surface the handlers, seeding and the simulated Diego call.
    ``max_task_retries`` is the BBS's config value of that name (``TaskRules``).

    To set up state in a test, ``FakeBBS.seed`` is the public way: it validates what it
    stores. These rule methods are the fake's inside; they skip validation.
    """

    store: Store
    desired: DesiredLRPRules
    lifecycle: ActualLRPLifecycle
    evacuation: Evacuation
    tasks: TaskRules
    domains: DomainRules
    convergence: Convergence

    def __init__(self, store: Store, *, max_task_retries: int = DEFAULT_MAX_TASK_RETRIES) -> None:
        self.store = store
        self.desired = DesiredLRPRules(store)
        self.lifecycle = ActualLRPLifecycle(store)
        self.evacuation = Evacuation(store)
        self.tasks = TaskRules(store, max_task_retries=max_task_retries)
        self.domains = DomainRules(store)
        self.convergence = Convergence(store, self.lifecycle, self.domains)

    # -- DesiredLRPRules (desired) ----------------------------------------------------------

    def desire_lrp(self, lrp: models.DesiredLRP, trace_id: str = "") -> list[models.ActualLRP]:
        return self.desired.desire_lrp(lrp, trace_id)

    def desired_lrp_by_process_guid(self, process_guid: str) -> models.DesiredLRP:
        return self.desired.desired_lrp_by_process_guid(process_guid)

    def desired_lrps_matching(
        self, domain: str = "", process_guids: Iterable[str] = (), app_guids: Iterable[str] = ()
    ) -> list[models.DesiredLRP]:
        return self.desired.desired_lrps_matching(domain, process_guids, app_guids)

    def update_desired_lrp(
        self, process_guid: str, update: models.DesiredLRPUpdate, trace_id: str = ""
    ) -> tuple[
        models.DesiredLRP, models.DesiredLRP, list[models.ActualLRP], list[models.ActualLRP]
    ]:
        return self.desired.update_desired_lrp(process_guid, update, trace_id)

    def remove_desired_lrp(
        self, process_guid: str, trace_id: str = ""
    ) -> tuple[models.DesiredLRP, list[models.ActualLRP]]:
        return self.desired.remove_desired_lrp(process_guid, trace_id)

    def actual_lrps_matching(
        self, domain: str = "", cell_id: str = "", process_guid: str = "", index: int | None = None
    ) -> list[models.ActualLRP]:
        return self.desired.actual_lrps_matching(domain, cell_id, process_guid, index)

    def actual_lrps_by_process_guids(self, process_guids: Iterable[str]) -> list[models.ActualLRP]:
        return self.desired.actual_lrps_by_process_guids(process_guids)

    def desired_lrp_rows(
        self, domain: str = "", process_guids: Iterable[str] = (), app_guids: Iterable[str] = ()
    ) -> Iterator[tuple[str, models.DesiredLRP]]:
        return self.desired.desired_lrp_rows(domain, process_guids, app_guids)

    def actual_lrp_rows_of(
        self, process_guids: Iterable[str]
    ) -> Iterator[tuple[ActualKey, models.ActualLRP]]:
        return self.desired.actual_lrp_rows_of(process_guids)

    def actual_lrp_rows(
        self, domain: str = "", cell_id: str = "", process_guid: str = "", index: int | None = None
    ) -> Iterator[tuple[ActualKey, models.ActualLRP]]:
        return self.desired.actual_lrp_rows(domain, cell_id, process_guid, index)

    # -- ActualLRPLifecycle (lifecycle) -----------------------------------------------------

    def claim_actual_lrp(
        self, process_guid: str, index: int, instance_key: models.ActualLRPInstanceKey
    ) -> None:
        self.lifecycle.claim_actual_lrp(process_guid, index, instance_key)

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
    ) -> None:
        self.lifecycle.start_actual_lrp(
            key,
            instance_key,
            net_info,
            internal_routes=internal_routes,
            metric_tags=metric_tags,
            routable=routable,
            availability_zone=availability_zone,
        )

    def crash_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        error_message: str,
    ) -> models.ActualLRP | None:
        return self.lifecycle.crash_actual_lrp(key, instance_key, error_message)

    def fail_actual_lrp(
        self, key: models.ActualLRPKey, error_message: str
    ) -> models.ActualLRP | None:
        return self.lifecycle.fail_actual_lrp(key, error_message)

    def remove_actual_lrp(
        self, process_guid: str, index: int, instance_key: models.ActualLRPInstanceKey | None = None
    ) -> models.ActualLRP:
        return self.lifecycle.remove_actual_lrp(process_guid, index, instance_key)

    def unclaim_actual_lrp(
        self, process_guid: str, index: int, *, stale: bool = False, trace_id: str = ""
    ) -> tuple[models.ActualLRP, models.ActualLRP]:
        return self.lifecycle.unclaim_actual_lrp(
            process_guid, index, stale=stale, trace_id=trace_id
        )

    def retire_actual_lrp(
        self, key: models.ActualLRPKey, trace_id: str = ""
    ) -> list[models.ActualLRP]:
        return self.lifecycle.retire_actual_lrp(key, trace_id)

    # -- Evacuation (evacuation) ------------------------------------------------------------

    def evacuate_claimed_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey
    ) -> bool:
        return self.evacuation.evacuate_claimed_actual_lrp(key, instance_key)

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
    ) -> bool:
        return self.evacuation.evacuate_running_actual_lrp(
            key,
            instance_key,
            net_info,
            internal_routes=internal_routes,
            metric_tags=metric_tags,
            routable=routable,
            availability_zone=availability_zone,
        )

    def evacuate_stopped_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey
    ) -> bool:
        return self.evacuation.evacuate_stopped_actual_lrp(key, instance_key)

    def evacuate_crashed_actual_lrp(
        self,
        key: models.ActualLRPKey,
        instance_key: models.ActualLRPInstanceKey,
        error_message: str,
    ) -> bool:
        return self.evacuation.evacuate_crashed_actual_lrp(key, instance_key, error_message)

    def remove_evacuating_actual_lrp(
        self, key: models.ActualLRPKey, instance_key: models.ActualLRPInstanceKey
    ) -> models.ActualLRP:
        return self.evacuation.remove_evacuating_actual_lrp(key, instance_key)

    # -- TaskRules (tasks) ------------------------------------------------------------------

    def tasks_matching(self, domain: str = "", cell_id: str = "") -> list[models.Task]:
        return self.tasks.tasks_matching(domain, cell_id)

    def task_rows(self, domain: str = "", cell_id: str = "") -> Iterator[tuple[str, models.Task]]:
        return self.tasks.task_rows(domain, cell_id)

    def task_by_guid(self, task_guid: str) -> models.Task:
        return self.tasks.task_by_guid(task_guid)

    def desire_task(
        self, definition: models.TaskDefinition, task_guid: str, domain: str, trace_id: str = ""
    ) -> models.Task:
        return self.tasks.desire_task(definition, task_guid, domain, trace_id)

    def start_task(self, task_guid: str, cell_id: str, trace_id: str = "") -> bool:
        return self.tasks.start_task(task_guid, cell_id, trace_id)

    def cancel_task(self, task_guid: str, trace_id: str = "") -> models.Task:
        return self.tasks.cancel_task(task_guid, trace_id)

    def fail_task(self, task_guid: str, failure_reason: str, trace_id: str = "") -> models.Task:
        return self.tasks.fail_task(task_guid, failure_reason, trace_id)

    def reject_task(self, task_guid: str, rejection_reason: str, trace_id: str = "") -> models.Task:
        return self.tasks.reject_task(task_guid, rejection_reason, trace_id)

    def complete_task(
        self,
        task_guid: str,
        cell_id: str,
        failed: bool,
        failure_reason: str = "",
        result: str = "",
        trace_id: str = "",
    ) -> models.Task:
        return self.tasks.complete_task(
            task_guid, cell_id, failed, failure_reason, result, trace_id
        )

    def resolving_task(self, task_guid: str, trace_id: str = "") -> models.Task:
        return self.tasks.resolving_task(task_guid, trace_id)

    def delete_task(self, task_guid: str, trace_id: str = "") -> models.Task:
        return self.tasks.delete_task(task_guid, trace_id)

    # -- Convergence (convergence) ----------------------------------------------------------

    def converge(self, trace_id: str = "") -> tuple[LRPConvergence, TaskConvergence]:
        return self.convergence.converge(trace_id)

    def converge_lrps(self, trace_id: str = "") -> LRPConvergence:
        return self.convergence.converge_lrps(trace_id)

    def converge_tasks(self, trace_id: str = "") -> TaskConvergence:
        return self.convergence.converge_tasks(trace_id)

    # -- DomainRules (domains) --------------------------------------------------------------

    def upsert_domain(self, domain: str, ttl_seconds: int) -> None:
        return self.domains.upsert_domain(domain, ttl_seconds)

    def fresh_domains(self) -> list[str]:
        return self.domains.fresh_domains()

    def register_cell(self, presence: models.CellPresence) -> None:
        return self.domains.register_cell(presence)

    def unregister_cell(self, cell_id: str) -> None:
        return self.domains.unregister_cell(cell_id)

    def cell_presences(self) -> list[models.CellPresence]:
        return self.domains.cell_presences()
