"""Smoke test of a running emulator: SQS, CloudWatch over RPC v2 CBOR, lifecycle actions.

    .venv-emulator/bin/python scripts/emulator.d/smoke.py [ENDPOINT]

ENDPOINT defaults to $WORKPOOL_TEST_ENDPOINT. CloudWatch calls are built byte for byte the way
the Rust SDK builds them (route, headers, indefinite-length CBOR, tag 1 timestamps, SigV4 for
`monitoring`) and answers are read as strictly as the Rust SDK reads them. Names are unique per
run, so it can run any number of times against the same emulator. Exits non-zero on the first
failed check.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from rust_sdk_wire import Tagged, decode_strict, encode_like_rust_sdk  # noqa: E402

REGION = "us-east-1"
CLOUDWATCH_SERVICE = "GraniteServiceVersion20100801"
CREDENTIALS = Credentials("test", "test")


def check(condition: bool, what: str) -> None:
    """Fail loudly unless `condition`; print the check otherwise."""
    if not condition:
        raise AssertionError(what)
    print(f"  ok  {what}")


class CborCall:
    """One CloudWatch RPC v2 CBOR answer, decoded strictly."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        self.value = decode_strict(body) if body else None


def cloudwatch_cbor(endpoint: str, operation: str, request: dict, compress: bool = False) -> CborCall:
    """Send `request` to CloudWatch `operation` exactly as aws-sdk-cloudwatch does."""
    body = encode_like_rust_sdk(request)
    headers = {
        "Content-Type": "application/cbor",
        "Accept": "application/cbor",
        "smithy-protocol": "rpc-v2-cbor",
    }
    if compress:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    url = f"{endpoint}/service/{CLOUDWATCH_SERVICE}/operation/{operation}"
    signed = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(CREDENTIALS, "monitoring", REGION).add_auth(signed)
    http_request = urllib.request.Request(
        url, data=body, headers=dict(signed.headers.items()), method="POST"
    )
    try:
        with urllib.request.urlopen(http_request, timeout=30) as answer:
            return CborCall(answer.status, dict(answer.headers.items()), answer.read())
    except urllib.error.HTTPError as error:
        return CborCall(error.code, dict(error.headers.items()), error.read())


def is_epoch_timestamp(value) -> bool:
    """Tag 1 around a float: what the SDK's timestamp decoder accepts (and we promise)."""
    return isinstance(value, Tagged) and value.tag == 1 and isinstance(value.value, float)


def smoke_sqs(endpoint: str, suffix: str) -> None:
    print("SQS")
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
    url = sqs.create_queue(QueueName=f"smoke-{suffix}")["QueueUrl"]
    check(url.endswith(f"smoke-{suffix}"), f"CreateQueue gives a queue URL ({url})")
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    check(
        [m["Body"] for m in received] == ["hello"],
        "SendMessage then ReceiveMessage returns the message",
    )
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    sqs.delete_queue(QueueUrl=url)


def smoke_cloudwatch(endpoint: str, suffix: str) -> None:
    print("CloudWatch over Smithy RPC v2 CBOR")
    namespace = f"Workpool/Smoke/{suffix}"
    now = _dt.datetime.now(_dt.timezone.utc)
    dimensions = [{"Name": "QueueName", "Value": "smoke"}]
    put = cloudwatch_cbor(
        endpoint,
        "PutMetricData",
        {
            "Namespace": namespace,
            "MetricData": [
                {
                    "MetricName": "ApproximateNumberOfMessages",
                    "Dimensions": dimensions,
                    "Timestamp": now,
                    "Value": 7.0,
                    "Unit": "Count",
                },
                {
                    "MetricName": "BacklogPerInstance",
                    "Dimensions": dimensions,
                    "Timestamp": now,
                    "Value": 3.5,
                },
            ],
        },
    )
    check(put.status == 200, f"PutMetricData answers 200 (got {put.status} {put.body!r})")
    check(
        put.headers.get("smithy-protocol") == "rpc-v2-cbor",
        "answers carry smithy-protocol: rpc-v2-cbor",
    )

    compressed = cloudwatch_cbor(
        endpoint,
        "PutMetricData",
        {
            "Namespace": namespace,
            "MetricData": [{"MetricName": "Compressed", "Value": 1.0, "Timestamp": now}],
        },
        compress=True,
    )
    check(compressed.status == 200, "a gzip-compressed PutMetricData is accepted")

    listed = cloudwatch_cbor(endpoint, "ListMetrics", {"Namespace": namespace})
    check(listed.status == 200, f"ListMetrics answers 200 (got {listed.status})")
    check(
        listed.headers.get("content-type") == "application/cbor",
        "ListMetrics answers application/cbor",
    )
    names = sorted(m["MetricName"] for m in listed.value["Metrics"])
    check(
        names == ["ApproximateNumberOfMessages", "BacklogPerInstance", "Compressed"],
        f"ListMetrics reads back the metrics put over CBOR ({names})",
    )

    start, end = now - _dt.timedelta(minutes=10), now + _dt.timedelta(minutes=1)
    statistics = cloudwatch_cbor(
        endpoint,
        "GetMetricStatistics",
        {
            "Namespace": namespace,
            "MetricName": "ApproximateNumberOfMessages",
            "Dimensions": dimensions,
            "StartTime": start,
            "EndTime": end,
            "Period": 60,
            "Statistics": ["Maximum", "SampleCount"],
        },
    )
    check(statistics.status == 200, f"GetMetricStatistics answers 200 (got {statistics.status})")
    points = statistics.value["Datapoints"]
    check(len(points) == 1, "GetMetricStatistics finds the one datapoint")
    check(is_epoch_timestamp(points[0]["Timestamp"]), "datapoint Timestamp is tag 1 + float")
    check(
        points[0]["Maximum"] == 7.0 and isinstance(points[0]["Maximum"], float),
        "Maximum is a CBOR float (7.0)",
    )
    check(isinstance(points[0]["SampleCount"], float), "SampleCount is a CBOR float")

    data = cloudwatch_cbor(
        endpoint,
        "GetMetricData",
        {
            "MetricDataQueries": [
                {
                    "Id": "backlog",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": "BacklogPerInstance",
                            "Dimensions": dimensions,
                        },
                        "Period": 60,
                        "Stat": "Average",
                    },
                }
            ],
            "StartTime": start,
            "EndTime": end,
        },
    )
    check(data.status == 200, f"GetMetricData answers 200 (got {data.status})")
    result = data.value["MetricDataResults"][0]
    check(result["Values"] == [3.5], f"GetMetricData returns the value ({result['Values']})")
    check(
        all(is_epoch_timestamp(t) for t in result["Timestamps"]) and result["Timestamps"],
        "GetMetricData Timestamps are tag 1 + float",
    )

    alarm_name = f"smoke-backlog-{suffix}"
    alarm = cloudwatch_cbor(
        endpoint,
        "PutMetricAlarm",
        {
            "AlarmName": alarm_name,
            "Namespace": namespace,
            "MetricName": "BacklogPerInstance",
            "Dimensions": dimensions,
            "Statistic": "Average",
            "Period": 60,
            "EvaluationPeriods": 2,
            "Threshold": 10.0,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )
    check(alarm.status == 200, f"PutMetricAlarm answers 200 (got {alarm.status} {alarm.body!r})")
    described = cloudwatch_cbor(endpoint, "DescribeAlarms", {"AlarmNames": [alarm_name]})
    check(described.status == 200, f"DescribeAlarms answers 200 (got {described.status})")
    alarms = described.value["MetricAlarms"]
    check([a["AlarmName"] for a in alarms] == [alarm_name], "DescribeAlarms finds the alarm")
    check(
        isinstance(alarms[0]["Threshold"], float) and isinstance(alarms[0]["Period"], int),
        "Threshold is a float and Period an int",
    )
    check(
        is_epoch_timestamp(alarms[0]["StateUpdatedTimestamp"]),
        "StateUpdatedTimestamp is tag 1 + float",
    )

    missing = cloudwatch_cbor(
        endpoint,
        "SetAlarmState",
        {"AlarmName": f"no-such-alarm-{suffix}", "StateValue": "OK", "StateReason": "smoke"},
    )
    check(400 <= missing.status < 500, f"an unknown alarm is a client error ({missing.status})")
    check(
        missing.value.get("__type", "").endswith("ResourceNotFound")
        and "message" in missing.value,
        f"the error body is a CBOR envelope with __type and message ({missing.value})",
    )
    check(
        missing.headers.get("x-amzn-query-error", "").startswith("ResourceNotFound;"),
        "the x-amzn-query-error header names the query error code",
    )


def smoke_lifecycle_actions(endpoint: str, suffix: str) -> None:
    print("Auto Scaling lifecycle actions")
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint, region_name=REGION)
    template = f"smoke-{suffix}"
    group = f"smoke-{suffix}"
    hook = "drain"
    ec2.create_launch_template(
        LaunchTemplateName=template,
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=1,
        AvailabilityZones=[f"{REGION}a"],
    )
    autoscaling.put_lifecycle_hook(
        AutoScalingGroupName=group,
        LifecycleHookName=hook,
        LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
        HeartbeatTimeout=300,
    )
    instance = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
        "AutoScalingGroups"
    ][0]["Instances"][0]["InstanceId"]

    def recorded() -> list[dict]:
        with urllib.request.urlopen(f"{endpoint}/_workpool/lifecycle-actions", timeout=10) as r:
            return [e for e in json.load(r) if e["parameters"].get("AutoScalingGroupName") == group]

    autoscaling.record_lifecycle_action_heartbeat(
        AutoScalingGroupName=group, LifecycleHookName=hook, InstanceId=instance
    )
    autoscaling.complete_lifecycle_action(
        AutoScalingGroupName=group,
        LifecycleHookName=hook,
        InstanceId=instance,
        LifecycleActionResult="CONTINUE",
    )
    entries = recorded()
    check(
        [e["action"] for e in entries]
        == ["RecordLifecycleActionHeartbeat", "CompleteLifecycleAction"],
        "both calls succeed through boto3 and are recorded in order",
    )
    check(
        entries[1]["parameters"]
        == {
            "AutoScalingGroupName": group,
            "LifecycleHookName": hook,
            "InstanceId": instance,
            "LifecycleActionResult": "CONTINUE",
        }
        and entries[1]["accepted"]
        and entries[1]["timestamp"] <= time.time(),
        "the record holds every parameter, acceptance and a timestamp",
    )

    try:
        autoscaling.complete_lifecycle_action(
            AutoScalingGroupName=group,
            LifecycleHookName="no-such-hook",
            InstanceId=instance,
            LifecycleActionResult="ABANDON",
        )
        rejected = False
    except ClientError as error:
        rejected = error.response["Error"]["Code"] == "ValidationError"
    check(rejected, "an unknown hook is a ValidationError")
    check(
        not recorded()[-1]["accepted"],
        "rejected calls are recorded too, marked not accepted",
    )

    request = urllib.request.Request(f"{endpoint}/_workpool/lifecycle-actions", method="DELETE")
    with urllib.request.urlopen(request, timeout=10) as answer:
        check(answer.status == 204, "DELETE /_workpool/lifecycle-actions answers 204")
    check(recorded() == [], "and clears the record")


def main() -> int:
    endpoint = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("WORKPOOL_TEST_ENDPOINT", ""))
    if not endpoint:
        print("usage: smoke.py ENDPOINT (or set WORKPOOL_TEST_ENDPOINT)", file=sys.stderr)
        return 2
    endpoint = endpoint.rstrip("/")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    suffix = uuid.uuid4().hex[:10]
    try:
        smoke_sqs(endpoint, suffix)
        smoke_cloudwatch(endpoint, suffix)
        smoke_lifecycle_actions(endpoint, suffix)
    except AssertionError as failure:
        print(f"FAIL {failure}", file=sys.stderr)
        return 1
    print(f"emulator smoke test passed against {endpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
