"""In-process tests of the emulator's own code (no server, no port): run by scripts/test.

    .venv-emulator/bin/python -m unittest discover -s scripts/emulator.d -p 'test_*.py'
"""

from __future__ import annotations

import datetime as _dt
import gzip
import json
import math
import os
import sys
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from botocore.session import get_session  # noqa: E402
from werkzeug.test import Client  # noqa: E402

from rust_sdk_wire import Tagged, decode_strict, encode_like_rust_sdk  # noqa: E402
from server import RequestHandler, build_app  # noqa: E402
from shape_codec import request_to_json, response_to_cbor  # noqa: E402

AUTH = (
    "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/{service}/aws4_request, "
    "SignedHeaders=host, Signature=0"
)
CBOR_HEADERS = {
    "Content-Type": "application/cbor",
    "Accept": "application/cbor",
    "smithy-protocol": "rpc-v2-cbor",
    "Authorization": AUTH.format(service="monitoring"),
}


def cbor_post(client: Client, operation: str, body: bytes, **headers):
    return client.post(
        f"/service/GraniteServiceVersion20100801/operation/{operation}",
        data=body,
        headers={**CBOR_HEADERS, **headers},
    )


class ShapeCodecTest(unittest.TestCase):
    model = get_session().get_service_model("cloudwatch")

    def shape(self, operation: str, direction: str):
        operation_model = self.model.operation_model(operation)
        return getattr(operation_model, f"{direction}_shape")

    def test_request_timestamps_become_epoch_numbers(self):
        when = _dt.datetime(2025, 1, 2, 3, 4, 5, 250000, tzinfo=_dt.timezone.utc)
        converted = request_to_json(
            self.shape("GetMetricStatistics", "input"),
            {"StartTime": when, "EndTime": Tagged(1, 1.5), "Period": 60},
        )
        self.assertEqual(converted["StartTime"], when.timestamp())
        self.assertEqual(converted["Period"], 60)
        json.dumps(converted)

    def test_request_nulls_are_dropped_and_non_finite_doubles_spelled_out(self):
        converted = request_to_json(
            self.shape("PutMetricData", "input"),
            {
                "Namespace": "n",
                "StrictEntityValidation": None,
                "MetricData": [{"MetricName": "m", "Value": math.inf, "Unit": None}],
            },
        )
        self.assertEqual(
            converted, {"Namespace": "n", "MetricData": [{"MetricName": "m", "Value": "Infinity"}]}
        )

    def test_response_numbers_follow_the_model(self):
        converted = response_to_cbor(
            self.shape("GetMetricStatistics", "output"),
            {
                "Label": "m",
                "Datapoints": [{"Timestamp": 1700000000, "Average": 5, "SampleCount": 2}],
            },
        )
        point = decode_strict(_cbor2_dumps(converted))["Datapoints"][0]
        self.assertEqual(point["Timestamp"], Tagged(1, 1700000000.0))
        self.assertIsInstance(point["Timestamp"].value, float)
        self.assertIsInstance(point["Average"], float)
        self.assertIsInstance(point["SampleCount"], float)

    def test_response_timestamps_given_as_text_are_parsed(self):
        converted = response_to_cbor(
            self.shape("DescribeAlarms", "output"),
            {"MetricAlarms": [{"StateUpdatedTimestamp": "2025-01-02T03:04:05Z", "Period": 60}]},
        )
        alarm = decode_strict(_cbor2_dumps(converted))["MetricAlarms"][0]
        expected = _dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=_dt.timezone.utc).timestamp()
        self.assertEqual(alarm["StateUpdatedTimestamp"], Tagged(1, expected))
        self.assertEqual(alarm["Period"], 60)


def _cbor2_dumps(value) -> bytes:
    import cbor2

    return cbor2.dumps(value)


class EmulatorAppTest(unittest.TestCase):
    def setUp(self):
        self.client = Client(build_app())

    def test_health(self):
        answer = self.client.get("/_workpool/health")
        self.assertEqual((answer.status_code, answer.data), (200, b"ok"))

    def test_unknown_control_route_is_404(self):
        self.assertEqual(self.client.get("/_workpool/nothing").status_code, 404)

    def test_cbor_round_trip_and_unit_output(self):
        now = _dt.datetime.now(_dt.timezone.utc)
        put = cbor_post(
            self.client,
            "PutMetricData",
            encode_like_rust_sdk(
                {"Namespace": "t", "MetricData": [{"MetricName": "m", "Value": 1.0, "Timestamp": now}]}
            ),
        )
        self.assertEqual(put.status_code, 200, put.data)
        self.assertEqual(put.data, b"")
        self.assertEqual(put.headers["smithy-protocol"], "rpc-v2-cbor")
        listed = cbor_post(self.client, "ListMetrics", encode_like_rust_sdk({"Namespace": "t"}))
        self.assertEqual(listed.headers["Content-Type"], "application/cbor")
        metrics = decode_strict(listed.data)["Metrics"]
        self.assertEqual([m["MetricName"] for m in metrics], ["m"])

    def test_empty_request_body_means_empty_input(self):
        answer = cbor_post(self.client, "DescribeAlarms", b"")
        self.assertEqual(answer.status_code, 200, answer.data)
        self.assertEqual(decode_strict(answer.data)["MetricAlarms"], [])

    def test_gzip_request_body(self):
        body = gzip.compress(encode_like_rust_sdk({"Namespace": "gz"}))
        answer = cbor_post(self.client, "ListMetrics", body, **{"Content-Encoding": "gzip"})
        self.assertEqual(answer.status_code, 200, answer.data)

    def test_malformed_cbor_is_a_serialization_error(self):
        answer = cbor_post(self.client, "ListMetrics", b"\xbf\x61")
        self.assertEqual(answer.status_code, 400)
        self.assertEqual(decode_strict(answer.data)["__type"], "SerializationException")

    def test_unknown_operation_is_404_in_cbor(self):
        answer = cbor_post(self.client, "Teleport", encode_like_rust_sdk({}))
        self.assertEqual(answer.status_code, 404)
        self.assertEqual(decode_strict(answer.data)["__type"], "UnknownOperationException")

    def test_moto_error_becomes_cbor_envelope_with_query_error_header(self):
        answer = cbor_post(
            self.client,
            "SetAlarmState",
            encode_like_rust_sdk({"AlarmName": "absent", "StateValue": "OK", "StateReason": "x"}),
        )
        self.assertEqual(answer.status_code, 404)
        envelope = decode_strict(answer.data)
        self.assertTrue(envelope["__type"].endswith("#ResourceNotFound"), envelope)
        self.assertIsInstance(envelope["message"], str)
        self.assertEqual(answer.headers["x-amzn-query-error"], "ResourceNotFound;Sender")
        self.assertEqual(answer.headers["smithy-protocol"], "rpc-v2-cbor")

    def test_lifecycle_action_without_required_parameters_is_rejected_and_recorded(self):
        answer = self.client.post(
            "/",
            data="Action=CompleteLifecycleAction&Version=2011-01-01&AutoScalingGroupName=g",
            headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                "Authorization": AUTH.format(service="autoscaling"),
            },
        )
        self.assertEqual(answer.status_code, 400)
        self.assertIn(b"<Code>ValidationError</Code>", answer.data)
        record = json.loads(self.client.get("/_workpool/lifecycle-actions").data)
        self.assertEqual(len(record), 1)
        self.assertEqual(record[0]["parameters"], {"AutoScalingGroupName": "g"})
        self.assertFalse(record[0]["accepted"])
        self.assertEqual(self.client.delete("/_workpool/lifecycle-actions").status_code, 204)
        self.assertEqual(json.loads(self.client.get("/_workpool/lifecycle-actions").data), [])

    def test_other_query_calls_reach_moto(self):
        answer = self.client.post(
            "/",
            data="Action=DescribeAutoScalingGroups&Version=2011-01-01",
            headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                "Authorization": AUTH.format(service="autoscaling"),
            },
        )
        self.assertEqual(answer.status_code, 200, answer.data)
        self.assertIn(b"DescribeAutoScalingGroupsResponse", answer.data)


class RequestLogTest(unittest.TestCase):
    def logged_codes(self, every_request: bool) -> list[str]:
        handler = RequestHandler.__new__(RequestHandler)
        handler.log_every_request = every_request
        logged = []
        with mock.patch(
            "werkzeug.serving.WSGIRequestHandler.log_request",
            lambda self, code="-", size="-": logged.append(str(code)),
        ):
            for code in (100, 200, 204, 304, 400, 404, 500, "-"):
                handler.log_request(code, 0)
        return logged

    def test_only_failed_requests_are_logged_by_default(self):
        self.assertEqual(self.logged_codes(False), ["400", "404", "500", "-"])

    def test_every_request_is_logged_when_asked(self):
        self.assertEqual(len(self.logged_codes(True)), 8)


if __name__ == "__main__":
    unittest.main()
