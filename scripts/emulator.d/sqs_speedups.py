"""Same behaviour, less work: two hot spots of moto's SQS model, patched at start-up.

moto 5.2.5 makes every ReceiveMessage cost O(queue depth) per returned message:

- `SQSBackend.is_message_valid_based_on_retention_period`, called for each message a receive
  returns, reads the retention period through `get_queue_attributes`, which builds *every*
  attribute of the queue, ApproximateNumberOfMessages* included — each a scan of all messages.
- `Message.visible` and `Message.delayed`, called for every message on every such scan, read the
  clock through moto's datetime helpers (`utcnow()`, `utcfromtimestamp(0)`, a timedelta), about
  ten times the cost of `time.time()`.

So 200 messages drain in about a second and 2,000 take over a minute, with any client. Real SQS
does not slow down as a queue deepens; the patches below give the same answers (same retention
rule, same millisecond comparisons against the same epoch clock) without the scans.
"""

from __future__ import annotations

import time

from moto.sqs import models


def _now_millis() -> float:
    return time.time() * 1000.0


def _visible(self) -> bool:
    return _now_millis() > self.visible_at


def _delayed(self) -> bool:
    return _now_millis() < self.delayed_until


def _is_message_valid_based_on_retention_period(self, queue_name: str, message) -> bool:
    queue = self.get_queue(queue_name)
    retention_period = int(getattr(queue, "message_retention_period"))
    return retention_period + message.sent_timestamp / 1000 > time.time()


def apply() -> None:
    """Patches moto's SQS model in this process (idempotent)."""
    models.Message.visible = property(_visible)
    models.Message.delayed = property(_delayed)
    models.SQSBackend.is_message_valid_based_on_retention_period = (
        _is_message_valid_based_on_retention_period
    )
