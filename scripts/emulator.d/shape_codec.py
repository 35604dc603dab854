"""Convert request and response values between Smithy RPC v2 CBOR and AWS JSON 1.0.

Pure functions, no I/O. Both directions are driven by the botocore service model, because
the two protocols encode the same shapes differently:

| shape      | RPC v2 CBOR                        | AWS JSON 1.0                  |
|------------|------------------------------------|-------------------------------|
| timestamp  | tag 1 + epoch seconds (int/float)  | epoch seconds (number)        |
| blob       | byte string                        | base64 text                   |
| double     | float (an int is a decode error)   | any JSON number               |
| absent     | member omitted or null             | member omitted                |

`request_to_json` takes the value `cbor2.loads` produced (cbor2 turns tag 1 into an aware
`datetime`) and returns something `json.dumps` accepts. `response_to_cbor` takes the value
`json.loads` produced and returns something `cbor2.dumps` encodes exactly as the Rust SDK's
decoder expects (timestamps as `CBORTag(1, float)`, doubles as floats).
"""

from __future__ import annotations

import base64
import datetime as _dt
import math
from typing import Any

from botocore.model import Shape
from botocore.utils import parse_timestamp
from cbor2 import CBORTag

EPOCH_SECONDS_TAG = 1

_FLOAT_TYPES = ("float", "double")
_INTEGER_TYPES = ("byte", "short", "integer", "long", "bigInteger")
_NON_FINITE_FROM_JSON = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def request_to_json(shape: Shape | None, value: Any) -> Any:
    """Turn a decoded CBOR request value of `shape` into its AWS JSON 1.0 form."""
    if value is None:
        return None
    type_name = shape.type_name if shape is not None else None
    if type_name == "structure" and isinstance(value, dict):
        members = shape.members
        return {
            key: request_to_json(members.get(key), member_value)
            for key, member_value in value.items()
            if member_value is not None
        }
    if type_name == "list" and isinstance(value, list):
        return [request_to_json(shape.member, item) for item in value]
    if type_name == "map" and isinstance(value, dict):
        return {
            key: request_to_json(shape.value, item)
            for key, item in value.items()
            if item is not None
        }
    return _request_scalar_to_json(value)


def _request_scalar_to_json(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return _datetime_to_epoch_seconds(value)
    if isinstance(value, CBORTag) and value.tag == EPOCH_SECONDS_TAG:
        return value.value
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {k: _request_scalar_to_json(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_request_scalar_to_json(v) for v in value]
    return value


def response_to_cbor(shape: Shape | None, value: Any) -> Any:
    """Turn a decoded AWS JSON 1.0 response value of `shape` into its RPC v2 CBOR form."""
    if value is None or shape is None:
        return value
    type_name = shape.type_name
    if type_name == "structure" and isinstance(value, dict):
        members = shape.members
        return {
            key: response_to_cbor(members.get(key), member_value)
            for key, member_value in value.items()
            if member_value is not None
        }
    if type_name == "list" and isinstance(value, list):
        return [response_to_cbor(shape.member, item) for item in value]
    if type_name == "map" and isinstance(value, dict):
        return {
            key: response_to_cbor(shape.value, item)
            for key, item in value.items()
            if item is not None
        }
    if type_name == "timestamp":
        return CBORTag(EPOCH_SECONDS_TAG, json_timestamp_to_epoch_seconds(value))
    if type_name == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    if type_name in _FLOAT_TYPES:
        if isinstance(value, str):
            return _NON_FINITE_FROM_JSON.get(value, float(value))
        return float(value)
    if type_name in _INTEGER_TYPES and not isinstance(value, bool):
        return int(value)
    if type_name == "boolean":
        return bool(value)
    return value


def json_timestamp_to_epoch_seconds(value: Any) -> float:
    """Epoch seconds (float) of a JSON timestamp: a number, or text botocore can parse."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return _datetime_to_epoch_seconds(parse_timestamp(value))


def _datetime_to_epoch_seconds(value: _dt.datetime) -> float:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value.timestamp()
