"""CloudWatch over Smithy RPC v2 CBOR, answered by moto's AWS JSON 1.0 implementation.

The current Rust `aws-sdk-cloudwatch` sends

    POST /service/GraniteServiceVersion20100801/operation/<Operation>
    Content-Type: application/cbor
    smithy-protocol: rpc-v2-cbor
    <CBOR map, indefinite length, timestamps as tag 1 + float64>

and moto only serves the JSON form (`X-Amz-Target: GraniteServiceVersion20100801.<Operation>`).
`CborToJsonAdapter` decodes the CBOR request, calls moto in process with the JSON request,
and encodes moto's answer back to CBOR, shape by shape (see shape_codec.py). Errors keep
moto's status and become `{"__type": ..., "message": ...}`; the `x-amzn-query-error` header
(CloudWatch is awsQueryCompatible, so the SDK takes the error code from it) is passed on.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
import traceback

import cbor2
from botocore.model import ServiceModel
from botocore.session import get_session

from shape_codec import request_to_json, response_to_cbor
from wsgi_calls import WsgiApp, call_app, read_body, respond

CBOR_CONTENT_TYPE = "application/cbor"
SMITHY_PROTOCOL_HEADER = ("smithy-protocol", "rpc-v2-cbor")

# Smithy service shape name -> botocore service name, for every service served over CBOR.
CBOR_SERVICES = {"GraniteServiceVersion20100801": "cloudwatch"}

_ROUTE = re.compile(r"^/service/(?P<service>[^/]+)/operation/(?P<operation>[^/]+)/?$")

# Response headers worth passing from moto's JSON answer to the CBOR answer.
_PASSED_HEADERS = ("x-amzn-requestid", "x-amzn-query-error")


def match_route(environ: dict) -> tuple[str, str] | None:
    """(service shape name, operation) when this is an RPC v2 CBOR call we serve, else None."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    found = _ROUTE.match(environ.get("PATH_INFO", ""))
    if found is None or found.group("service") not in CBOR_SERVICES:
        return None
    return found.group("service"), found.group("operation")


def cbor_error_body(error_type: str, message: str) -> bytes:
    """The RPC v2 CBOR error envelope."""
    return cbor2.dumps({"__type": error_type, "message": message})


class CborToJsonAdapter:
    """WSGI app answering RPC v2 CBOR calls through a JSON-speaking app (moto)."""

    def __init__(self, json_app: WsgiApp):
        self._json_app = json_app
        session = get_session()
        self._models: dict[str, ServiceModel] = {
            shape_name: session.get_service_model(botocore_name)
            for shape_name, botocore_name in CBOR_SERVICES.items()
        }

    def __call__(self, environ: dict, start_response):
        service, operation = match_route(environ)
        model = self._models[service]
        if operation not in model.operation_names:
            return self._error(
                start_response,
                "404 Not Found",
                "UnknownOperationException",
                f"{service} has no operation {operation}",
            )
        operation_model = model.operation_model(operation)
        try:
            raw = read_body(environ)
            if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
                # PutMetricData carries @requestCompression: the SDK gzips large bodies.
                raw = gzip.decompress(raw)
            decoded = cbor2.loads(raw) if raw else {}
        except Exception as error:  # malformed gzip/CBOR is the client's fault
            return self._error(
                start_response,
                "400 Bad Request",
                "SerializationException",
                f"request body is not valid CBOR: {error}",
            )
        if not isinstance(decoded, dict):
            return self._error(
                start_response,
                "400 Bad Request",
                "SerializationException",
                "request body must be a CBOR map",
            )
        json_body = json.dumps(request_to_json(operation_model.input_shape, decoded)).encode()
        json_environ = self._json_environ(environ, service, operation, json_body)
        try:
            answer = call_app(self._json_app, json_environ)
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            return self._error(
                start_response, "500 Internal Server Error", "InternalFailure", repr(error)
            )
        passed = [
            (name, value)
            for name, value in answer.headers
            if name.lower() in _PASSED_HEADERS
        ]
        if answer.status_code >= 400:
            return self._moto_error(start_response, answer.status, answer.body, passed)
        try:
            parsed = json.loads(answer.body) if answer.body.strip() else {}
            converted = response_to_cbor(operation_model.output_shape, parsed)
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            return self._error(
                start_response,
                "500 Internal Server Error",
                "InternalFailure",
                f"could not convert moto's answer to {operation} to CBOR: {error!r}",
            )
        if operation_model.output_shape is None:
            # Unit output: RPC v2 CBOR answers with an empty body.
            return respond(
                start_response, answer.status, b"", None, [SMITHY_PROTOCOL_HEADER, *passed]
            )
        return respond(
            start_response,
            answer.status,
            cbor2.dumps(converted),
            CBOR_CONTENT_TYPE,
            [SMITHY_PROTOCOL_HEADER, *passed],
        )

    @staticmethod
    def _json_environ(environ: dict, service: str, operation: str, body: bytes) -> dict:
        json_environ = dict(environ)
        json_environ.update(
            {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/",
                "QUERY_STRING": "",
                "CONTENT_TYPE": "application/x-amz-json-1.0",
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_X_AMZ_TARGET": f"{service}.{operation}",
                "wsgi.input": io.BytesIO(body),
            }
        )
        for cbor_only in ("HTTP_SMITHY_PROTOCOL", "HTTP_ACCEPT", "HTTP_CONTENT_ENCODING"):
            json_environ.pop(cbor_only, None)
        return json_environ

    @staticmethod
    def _moto_error(start_response, status: str, body: bytes, passed: list) -> list[bytes]:
        try:
            parsed = json.loads(body) if body.strip() else {}
        except ValueError:
            parsed = {"message": body.decode("utf-8", "replace")}
        if not isinstance(parsed, dict):
            parsed = {"message": str(parsed)}
        error_type = parsed.get("__type") or parsed.get("code") or "InternalFailure"
        message = parsed.get("message") or parsed.get("Message") or ""
        return respond(
            start_response,
            status,
            cbor_error_body(error_type, message),
            CBOR_CONTENT_TYPE,
            [SMITHY_PROTOCOL_HEADER, *passed],
        )

    @staticmethod
    def _error(start_response, status: str, error_type: str, message: str) -> list[bytes]:
        return respond(
            start_response,
            status,
            cbor_error_body(error_type, message),
            CBOR_CONTENT_TYPE,
            [SMITHY_PROTOCOL_HEADER],
        )
