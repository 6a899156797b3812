"""Every list route at two sizes over HTTP, beside a bare app sending the bytes already built."""

from __future__ import annotations

from google.protobuf.message import Message

from fakebbs import models
from fakebbs._bench.figures import Figure, Sizes, ms, p50
from fakebbs._bench.servers import (
    Canned,
    RawConnection,
    bare_server,
    ignore_start,
    in_process_environ,
)
from fakebbs._bench.workload import desired_lrp, make_request, task_definition
from fakebbs._fake import FakeBBS

LIST_ROUTES: tuple[tuple[str, str, type[Message]], ...] = (
    ("desired LRPs (list.r3)", "DesiredLRPs", models.DesiredLRPsRequest),
    ("desired LRPs (list.r2)", "DesiredLRPs_r2", models.DesiredLRPsRequest),
    ("desired LRPs (2016, list.r1)", "DesiredLRPs_r1", models.DesiredLRPsRequest),
    ("desired LRPs (2016, list)", "DesiredLRPs_r0", models.DesiredLRPsRequest),
    ("scheduling infos", "DesiredLRPSchedulingInfos", models.DesiredLRPsRequest),
    ("routing infos", "DesiredLRPRoutingInfos", models.DesiredLRPsRequest),
    ("actual LRPs", "ActualLRPs", models.ActualLRPsRequest),
    ("actual LRP groups", "ActualLRPGroups", models.ActualLRPGroupsRequest),
    ("tasks (list.r3)", "Tasks", models.TasksRequest),
    ("tasks (list.r2)", "Tasks_r2", models.TasksRequest),
)


def _fill(fake: FakeBBS, count: int) -> None:
    """``count`` desired LRPs with one instance each, and ``count`` tasks, desired in-process."""
    definition = task_definition()
    with fake.client() as client:
        for i in range(count):
            client.desire_lrp(desired_lrp(f"app-{i:05d}"))
            client.desire_task(f"task-{i:05d}", "cf-apps", definition)


def lists(sizes: Sizes) -> list[Figure]:
    figures: list[Figure] = []
    for count in sizes.lists:
        fake = FakeBBS()
        _fill(fake, count)
        canned = Canned()
        requests = [make_request(label, name, kind()) for label, name, kind in LIST_ROUTES]
        for request in requests:
            canned.answers[request.path] = b"".join(
                fake.wsgi_app(in_process_environ(request), ignore_start)
            )
        with fake.serve() as server, bare_server(canned) as bare_url:
            fake_conn, bare_conn = RawConnection(server.url), RawConnection(bare_url)
            try:
                for request in requests:
                    fake_s, bare_s = [], []
                    for _ in range(sizes.list_repeats):
                        fake_s.append(fake_conn.timed(request))
                        bare_s.append(bare_conn.timed(request))
                    figures.append(
                        Figure(
                            f"lists of {count:,}",
                            f"{request.label} p50",
                            "ms",
                            ms(p50(fake_s)),
                            ms(p50(bare_s)),
                            "bare app, bytes already built",
                            target="2x" if count >= 10_000 else "",
                        )
                    )
            finally:
                fake_conn.close()
                bare_conn.close()
    return figures
