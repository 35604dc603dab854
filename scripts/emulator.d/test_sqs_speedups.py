"""The patched SQS model answers as moto's own does: visibility, delays, retention; and a receive no
longer costs a scan of the queue per message. Run by scripts/test with the other emulator tests."""

from __future__ import annotations

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.sqs import models  # noqa: E402

import sqs_speedups  # noqa: E402


class SqsSpeedupsTest(unittest.TestCase):
    def setUp(self):
        sqs_speedups.apply()
        self.mock = mock_aws()
        self.mock.start()
        self.sqs = boto3.client(
            "sqs",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        self.url = self.sqs.create_queue(QueueName="speedups")["QueueUrl"]

    def tearDown(self):
        self.mock.stop()

    def receive(self, visibility=None):
        extra = {} if visibility is None else {"VisibilityTimeout": visibility}
        return self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, **extra
        ).get("Messages", [])

    def test_a_received_message_is_invisible_until_its_timeout(self):
        self.sqs.send_message(QueueUrl=self.url, MessageBody="one")
        self.assertEqual(len(self.receive(visibility=1)), 1)
        self.assertEqual(self.receive(), [])
        time.sleep(1.2)
        self.assertEqual([m["Body"] for m in self.receive()], ["one"])

    def test_a_delayed_message_waits(self):
        self.sqs.send_message(QueueUrl=self.url, MessageBody="later", DelaySeconds=1)
        self.assertEqual(self.receive(), [])
        time.sleep(1.2)
        self.assertEqual([m["Body"] for m in self.receive()], ["later"])

    def test_a_message_past_its_retention_period_is_not_returned(self):
        self.sqs.set_queue_attributes(
            QueueUrl=self.url, Attributes={"MessageRetentionPeriod": "60"}
        )
        self.sqs.send_message(QueueUrl=self.url, MessageBody="fresh")
        self.assertEqual([m["Body"] for m in self.receive(visibility=0)], ["fresh"])
        queue = models.sqs_backends["123456789012"]["us-east-1"].get_queue("speedups")
        queue._messages[0].sent_timestamp -= 61_000
        self.assertEqual(self.receive(), [])

    def test_a_receive_no_longer_builds_the_queue_attributes(self):
        for start in range(0, 50, 10):
            self.sqs.send_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)],
            )
        calls = []
        original = models.SQSBackend.get_queue_attributes

        def counting(backend, *args, **kwargs):
            calls.append(args)
            return original(backend, *args, **kwargs)

        models.SQSBackend.get_queue_attributes = counting
        try:
            self.assertEqual(len(self.receive()), 10)
        finally:
            models.SQSBackend.get_queue_attributes = original
        self.assertEqual(calls, [])

    def test_a_receipt_handle_is_185_lowercase_letters_and_new_on_each_receive(self):
        self.sqs.send_message(QueueUrl=self.url, MessageBody="one")
        handles = [self.receive(visibility=0)[0]["ReceiptHandle"] for _ in range(3)]
        for handle in handles:
            self.assertEqual(len(handle), 185)
            self.assertTrue(handle.isascii() and handle.isalpha() and handle.islower(), handle)
        self.assertEqual(len(set(handles)), 3)

    def test_delete_takes_the_current_or_an_earlier_handle_and_only_that_message(self):
        for body in ("a", "b", "c"):
            self.sqs.send_message(QueueUrl=self.url, MessageBody=body)
        first = {m["Body"]: m["ReceiptHandle"] for m in self.receive(visibility=0)}
        again = {m["Body"]: m["ReceiptHandle"] for m in self.receive(visibility=0)}
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=first["a"])
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=again["b"])
        # Deleting again is accepted, as moto (and SQS) do.
        self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=again["a"])
        self.assertEqual([m["Body"] for m in self.receive()], ["c"])

    def test_an_unknown_receipt_handle_is_refused_and_deletes_nothing(self):
        self.sqs.send_message(QueueUrl=self.url, MessageBody="kept")
        with self.assertRaises(self.sqs.exceptions.ReceiptHandleIsInvalid):
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle="z" * 185)
        self.assertEqual([m["Body"] for m in self.receive()], ["kept"])

    def test_the_receivable_messages_are_what_moto_itself_lists(self):
        for body in ("visible", "in-flight"):
            self.sqs.send_message(QueueUrl=self.url, MessageBody=body)
        self.sqs.send_message(QueueUrl=self.url, MessageBody="delayed", DelaySeconds=30)
        self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=1, VisibilityTimeout=30)
        queue = models.sqs_backends["123456789012"]["us-east-1"].get_queue("speedups")
        self.assertEqual(queue.messages, sqs_speedups.ORIGINAL_MESSAGES.fget(queue))
        self.assertEqual(len(queue.messages), 1, "one visible; one in flight and one delayed are not")

    def test_queue_attributes_are_what_moto_itself_answers(self):
        dead = self.sqs.create_queue(QueueName="speedups-dead")["QueueUrl"]
        dead_arn = self.sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.sqs.set_queue_attributes(
            QueueUrl=self.url,
            Attributes={
                "RedrivePolicy": f'{{"deadLetterTargetArn": "{dead_arn}", "maxReceiveCount": "3"}}'
            },
        )
        self.sqs.create_queue(
            QueueName="speedups.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        )
        for body in ("visible", "in-flight"):
            self.sqs.send_message(QueueUrl=self.url, MessageBody=body)
        self.sqs.send_message(QueueUrl=self.url, MessageBody="delayed", DelaySeconds=30)
        self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=1, VisibilityTimeout=30)
        backend = models.sqs_backends["123456789012"]["us-east-1"]
        for name in ("speedups", "speedups.fifo", "speedups-dead"):
            queue = backend.get_queue(name)
            self.assertEqual(queue.attributes, sqs_speedups.ORIGINAL_ATTRIBUTES.fget(queue), name)
        counts = backend.get_queue("speedups").attributes
        self.assertEqual(
            [counts[name] for name in sqs_speedups._COUNTS], [1, 1, 1], "visible, delayed, in flight"
        )


if __name__ == "__main__":
    unittest.main()
