"""The workpool AWS emulator: moto's server app plus what the Rust SDK and our tests need from it.

Run by `scripts/emulator start` with the emulator's own virtual environment:

    .venv-emulator/bin/python scripts/emulator.d/server.py --port 4566

Routes, in the order they are tried:

- `GET /_workpool/health` -> 200 `ok` (readiness probe).
- `GET /_workpool/lifecycle-actions` -> JSON list of every Auto Scaling lifecycle action call;
  `DELETE` clears it (204).
- `POST /service/GraniteServiceVersion20100801/operation/<Op>` -> CloudWatch over Smithy
  RPC v2 CBOR, translated to moto's AWS JSON 1.0 (cloudwatch_cbor.py).
- Query-protocol `CompleteLifecycleAction` / `RecordLifecycleActionHeartbeat` -> answered and
  recorded here (lifecycle_actions.py).
- everything else -> moto (SQS, Auto Scaling, S3, CloudFormation, `/moto-api/...`), with two
  lookups it repeats on every request done once (dispatch_speedups.py), its SQS hot spots made
  cheap without changing what they answer (sqs_speedups.py), and its
  SQS message operations made safe against each other on the server's threads
  (sqs_thread_safety.py), Auto Scaling's scaling activities recorded for
  `DescribeScalingActivities` (scaling_activities.py), and the instances of a group tagged
  `workpool:emulator:boot-seconds` booting (`Pending`) for that long (instance_boot.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

# Sibling modules live next to this file; make them importable however we are started.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple  # noqa: E402

import dispatch_speedups  # noqa: E402
import instance_boot  # noqa: E402
import scaling_activities  # noqa: E402
import sqs_speedups  # noqa: E402
import sqs_thread_safety  # noqa: E402
from cloudwatch_cbor import CborToJsonAdapter, match_route  # noqa: E402
from lifecycle_actions import (  # noqa: E402
    LifecycleActionHandler,
    LifecycleActionLog,
    lifecycle_action_parameters,
)
from wsgi_calls import WsgiApp, respond  # noqa: E402

CONTROL_PREFIX = "/_workpool/"
ACCESS_LOG_VARIABLE = "WORKPOOL_EMULATOR_ACCESS_LOG"


class RequestHandler(MotoRequestHandler):
    """moto's request handler, logging only the requests that failed (status 400 and up).

    werkzeug writes a line for every request by default: the emulator's log grows by a line per
    SQS call and every request thread takes the log's lock (about 4 % of the server's time under
    load). Set WORKPOOL_EMULATOR_ACCESS_LOG=1 to log every request again."""

    log_every_request = os.environ.get(ACCESS_LOG_VARIABLE) == "1"

    def log_request(self, code="-", size="-") -> None:
        if self.log_every_request or not str(code).startswith(("1", "2", "3")):
            super().log_request(code, size)


class EmulatorApp:
    """The WSGI app: routes each request to the piece that answers it (see module docs)."""

    def __init__(self, moto_app: WsgiApp):
        self._moto_app = moto_app
        self._cloudwatch_cbor = CborToJsonAdapter(moto_app)
        self.lifecycle_log = LifecycleActionLog()
        self._lifecycle_actions = LifecycleActionHandler(self.lifecycle_log)

    def __call__(self, environ: dict, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response, path[len(CONTROL_PREFIX) :])
        if match_route(environ) is not None:
            return self._cloudwatch_cbor(environ, start_response)
        parameters = lifecycle_action_parameters(environ)
        if parameters is not None:
            return self._lifecycle_actions(environ, start_response, parameters)
        return self._moto_app(environ, start_response)

    def _control(self, environ: dict, start_response, route: str):
        method = environ.get("REQUEST_METHOD")
        route = route.rstrip("/")
        if route == "health" and method in ("GET", "HEAD"):
            return respond(start_response, "200 OK", b"ok", "text/plain")
        if route == "lifecycle-actions" and method == "GET":
            body = json.dumps(self.lifecycle_log.entries(), indent=1).encode()
            return respond(start_response, "200 OK", body, "application/json")
        if route == "lifecycle-actions" and method == "DELETE":
            self.lifecycle_log.clear()
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        message = json.dumps({"error": f"no route {method} {CONTROL_PREFIX}{route}"}).encode()
        return respond(start_response, "404 Not Found", message, "application/json")


def build_app() -> EmulatorApp:
    """The emulator around a fresh moto server app (with moto's dispatch and SQS hot spots patched,
    Auto Scaling's scaling activities recorded and its instances booting where a group asks)."""
    dispatch_speedups.apply()
    sqs_speedups.apply()
    sqs_thread_safety.apply()
    scaling_activities.apply()
    instance_boot.apply()
    return EmulatorApp(DomainDispatcherApplication(create_backend_app))


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only)")
    parser.add_argument("--port", type=int, required=True, help="port to bind")
    args = parser.parse_args(argv)

    # moto builds some URLs (SQS queue URLs among them) from MOTO_PORT.
    os.environ.setdefault("MOTO_PORT", str(args.port))

    def exit_cleanly(signum, frame):
        sys.exit(0)

    signal.signal(signal.SIGTERM, exit_cleanly)
    signal.signal(signal.SIGINT, exit_cleanly)

    run_simple(
        args.host,
        args.port,
        build_app(),
        threaded=True,
        use_reloader=False,
        request_handler=RequestHandler,
    )


if __name__ == "__main__":
    main()
