"""A task's completion callback reaching a real HTTP receiver, over the fake's HTTP API.

Run: python examples/task_callback.py
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from fakebbs import BBSClient, FakeBBS, models

received: list[dict[str, object]] = []


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        received.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    fake = FakeBBS()
    fake.seed.cell("cell-1")
    definition = models.TaskDefinition(
        root_fs="preloaded:cflinuxfs4",
        action=models.Action(run_action=models.RunAction(path="/bin/migrate", user="vcap")),
        completion_callback_url=f"http://127.0.0.1:{receiver.server_port}/done",
    )
    with fake.serve() as server, BBSClient(server.url) as bbs:
        bbs.desire_task("migrate-1", "cf-tasks", definition)
        assert bbs.start_task("migrate-1", "cell-1")
        bbs.complete_task("migrate-1", "cell-1", failed=False, result="ok")
        assert fake.wait_for_callbacks(timeout=10)
        remaining = bbs.tasks()
    receiver.shutdown()
    receiver.server_close()
    print("callback:", received[0])
    print("tasks left:", [task.task_guid for task in remaining])
    assert received[0]["task_guid"] == "migrate-1" and remaining == []


if __name__ == "__main__":
    main()
