"""Auto Scaling `CompleteLifecycleAction` and `RecordLifecycleActionHeartbeat`, which moto lacks.

Auto Scaling speaks the AWS Query protocol: a form-encoded POST with `Action=...&Version=2011-01-01`.
moto answers these two actions with 500 NotImplementedError, so `LifecycleActionHandler` answers
them itself with the XML real Auto Scaling returns, after the checks moto's state allows (the
group and the hook must exist; real Auto Scaling also requires an instance waiting in that hook,
which moto does not model). Every call, accepted or rejected, is appended to a
`LifecycleActionLog` with all its parameters, so tests can assert what a worker told Auto Scaling
(`GET /_workpool/lifecycle-actions`, cleared by `DELETE`).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from wsgi_calls import read_body, respond

LIFECYCLE_ACTIONS = ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat")
AUTOSCALING_XMLNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
LIFECYCLE_ACTION_RESULTS = ("CONTINUE", "ABANDON")

_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/")
_DEFAULT_REGION = "us-east-1"


def lifecycle_action_parameters(environ: dict) -> dict[str, str] | None:
    """The call's parameters when it is one of the two lifecycle actions, else None.

    Only form-encoded POSTs (and GETs carrying a query) are looked at; the body is read once
    and put back, so other requests reach moto untouched.
    """
    method = environ.get("REQUEST_METHOD")
    pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    content_type = environ.get("CONTENT_TYPE", "")
    if method == "POST" and content_type.startswith(_FORM_CONTENT_TYPE):
        pairs += parse_qsl(read_body(environ).decode("utf-8", "replace"), keep_blank_values=True)
    elif method != "GET":
        return None
    parameters = dict(pairs)
    if parameters.get("Action") not in LIFECYCLE_ACTIONS:
        return None
    return parameters


class LifecycleActionLog:
    """Every lifecycle action call received since start (or the last clear), oldest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def append(self, entry: dict[str, Any]) -> None:
        """Record one call."""
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        """A copy of the record."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every recorded call."""
        with self._lock:
            self._entries.clear()


class LifecycleActionHandler:
    """WSGI app answering the two lifecycle actions and recording each call."""

    def __init__(self, log: LifecycleActionLog):
        self._log = log

    def __call__(self, environ: dict, start_response, parameters: dict[str, str]):
        action = parameters["Action"]
        account, region = request_account_and_region(environ)
        request_id = str(uuid.uuid4())
        error = validate_lifecycle_action(action, parameters, account, region)
        now = time.time()
        self._log.append(
            {
                "action": action,
                "parameters": {
                    key: value
                    for key, value in parameters.items()
                    if key not in ("Action", "Version")
                },
                "timestamp": now,
                "time": _dt.datetime.fromtimestamp(now, _dt.timezone.utc).isoformat(),
                "account": account,
                "region": region,
                "request_id": request_id,
                "accepted": error is None,
                "error": None if error is None else {"code": error[0], "message": error[1]},
            }
        )
        if error is not None:
            return respond(
                start_response,
                "400 Bad Request",
                query_error_xml(error[0], error[1], request_id).encode(),
                "text/xml",
            )
        return respond(
            start_response,
            "200 OK",
            query_success_xml(action, request_id).encode(),
            "text/xml",
            [("x-amzn-RequestId", request_id)],
        )


def validate_lifecycle_action(
    action: str, parameters: dict[str, str], account: str, region: str
) -> tuple[str, str] | None:
    """(error code, message) when the call is invalid, None when it is accepted."""
    for required in ("AutoScalingGroupName", "LifecycleHookName"):
        if not parameters.get(required):
            return ("ValidationError", f"1 validation error detected: {required} is required")
    if action == "CompleteLifecycleAction":
        result = parameters.get("LifecycleActionResult")
        if result not in LIFECYCLE_ACTION_RESULTS:
            return (
                "ValidationError",
                "LifecycleActionResult must be CONTINUE or ABANDON, got "
                f"{result if result is not None else 'nothing'}",
            )
    if not parameters.get("LifecycleActionToken") and not parameters.get("InstanceId"):
        return ("ValidationError", "Either LifecycleActionToken or InstanceId must be specified")
    group = parameters["AutoScalingGroupName"]
    hook = parameters["LifecycleHookName"]
    groups, hooks = _moto_groups_and_hooks(account, region)
    if group not in groups:
        return ("ValidationError", f"AutoScalingGroup name not found - {group}")
    if f"{group}_{hook}" not in hooks:
        return (
            "ValidationError",
            f"No Lifecycle Hook found with name {hook} in AutoScalingGroup {group}",
        )
    return None


def _moto_groups_and_hooks(account: str, region: str) -> tuple[set[str], set[str]]:
    from moto.autoscaling.models import autoscaling_backends

    backend = autoscaling_backends[account][region]
    return set(backend.autoscaling_groups), set(backend.lifecycle_hooks)


def request_account_and_region(environ: dict) -> tuple[str, str]:
    """The moto account and region a request addresses, decided the way moto decides them."""
    access_key = None
    region = _DEFAULT_REGION
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is not None:
        access_key, region = scope.group(1), scope.group(2)
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"], region
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"], region
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key or "AKIAEXAMPLE"), region


def query_success_xml(action: str, request_id: str) -> str:
    """The Query-protocol answer to a lifecycle action that succeeded (its result is empty)."""
    return (
        f'<{action}Response xmlns="{AUTOSCALING_XMLNS}">'
        f"<{action}Result/>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    )


def query_error_xml(code: str, message: str, request_id: str) -> str:
    """The Query-protocol error answer."""
    return (
        f'<ErrorResponse xmlns="{AUTOSCALING_XMLNS}">'
        f"<Error><Type>Sender</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId>"
        f"</ErrorResponse>"
    )
