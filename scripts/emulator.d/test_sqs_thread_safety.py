"""Concurrent receives on moto's SQS model never hand out one message twice, and never fail moving
a message to the dead-letter queue. Run by scripts/test with the other emulator tests."""

from __future__ import annotations

import os
import sys
import threading
import time
import unittest
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

import sqs_speedups  # noqa: E402
import sqs_thread_safety  # noqa: E402

THREADS = 8


def client():
    return boto3.client(
        "sqs", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def fill(sqs, url, count):
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)],
        )


def receive_in_threads(url, until, visibility):
    """Receives from `url` on THREADS threads until `until(bodies so far)` (or 30 s); returns
    (bodies, errors)."""
    bodies, errors, lock = [], [], threading.Lock()

    def work():
        sqs = client()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                if until(bodies):
                    return
            try:
                got = sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility
                ).get("Messages", [])
            except Exception as error:  # noqa: BLE001 - any failure is what we count
                with lock:
                    errors.append(repr(error))
                continue
            with lock:
                bodies.extend(message["Body"] for message in got)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return bodies, errors


class SqsThreadSafetyTest(unittest.TestCase):
    def setUp(self):
        sqs_speedups.apply()
        sqs_thread_safety.apply()
        self.mock = mock_aws()
        self.mock.start()
        self.sqs = client()

    def tearDown(self):
        self.mock.stop()

    def test_concurrent_receives_take_each_message_once(self):
        url = self.sqs.create_queue(QueueName="once")["QueueUrl"]
        fill(self.sqs, url, 300)
        got, errors = receive_in_threads(url, lambda bodies: len(bodies) >= 300, 60)
        duplicates = {body: n for body, n in Counter(got).items() if n > 1}
        self.assertEqual(errors, [])
        self.assertEqual(duplicates, {})
        self.assertEqual(len(got), 300)

    def test_concurrent_receives_move_each_poison_message_to_the_dead_letter_queue_once(self):
        dead = self.sqs.create_queue(QueueName="dead")["QueueUrl"]
        dead_arn = self.sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        url = self.sqs.create_queue(
            QueueName="poison",
            Attributes={
                "RedrivePolicy": f'{{"deadLetterTargetArn": "{dead_arn}", "maxReceiveCount": "1"}}'
            },
        )["QueueUrl"]
        fill(self.sqs, url, 200)
        # Each received once and released at once: the next receive moves it to the DLQ.
        first = []
        while len(first) < 200:
            got = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", [])
            first.extend(message["Body"] for message in got)

        def dead_count():
            return int(
                self.sqs.get_queue_attributes(
                    QueueUrl=dead, AttributeNames=["ApproximateNumberOfMessages"]
                )["Attributes"]["ApproximateNumberOfMessages"]
            )

        got, errors = receive_in_threads(url, lambda bodies: dead_count() >= 200, 0)
        self.assertEqual(errors, [])
        self.assertEqual(got, [], "past maxReceiveCount nothing is delivered again")
        self.assertEqual(dead_count(), 200)


if __name__ == "__main__":
    unittest.main()
