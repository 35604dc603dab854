"""Same behaviour, less work: three hot spots of moto's SQS model, patched at start-up.

moto 5.2.5 makes every ReceiveMessage cost O(queue depth) per returned message:

- `SQSBackend.is_message_valid_based_on_retention_period`, called for each message a receive
  returns, reads the retention period through `get_queue_attributes`, which builds *every*
  attribute of the queue, ApproximateNumberOfMessages* included — each a scan of all messages.
- `Message.visible` and `Message.delayed`, called for every message on every such scan, read the
  clock through moto's datetime helpers (`utcnow()`, `utcfromtimestamp(0)`, a timedelta), about
  ten times the cost of `time.time()`.
- `Queue.attributes`, read by every SendMessage (for ContentBasedDeduplication), scans the
  messages three times (one per ApproximateNumberOfMessages* count) and converts every attribute
  name from CamelCase with a regular expression.

So 200 messages drain in about a second and 2,000 take over a minute, with any client. Real SQS
does not slow down as a queue deepens; the patches below give the same answers (same retention
rule, same millisecond comparisons against the same epoch clock) without the scans.
"""

from __future__ import annotations

import json
import time

from moto.core.utils import camelcase_to_underscores
from moto.sqs import models

_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
)
_UNDERSCORED: dict[str, str] = {}

# moto's own, kept for the tests that compare against it.
ORIGINAL_ATTRIBUTES = models.Queue.attributes


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


def _counts(queue) -> dict[str, int]:
    """The three ApproximateNumberOfMessages* counts, as moto defines them, in one pass."""
    visible_now = delayed = not_visible = 0
    for message in queue._messages:
        is_visible = message.visible
        is_delayed = message.delayed
        delayed += is_delayed
        not_visible += not is_visible
        visible_now += is_visible and not is_delayed
    return {
        "ApproximateNumberOfMessages": visible_now,
        "ApproximateNumberOfMessagesDelayed": delayed,
        "ApproximateNumberOfMessagesNotVisible": not_visible,
    }


def _attributes(self) -> dict:
    names = list(self.BASE_ATTRIBUTES)
    if self.fifo_queue:
        names += self.FIFO_ATTRIBUTES
    if self.kms_master_key_id:
        names += self.KMS_ATTRIBUTES
    counts = None
    result: dict = {}
    for attribute in names:
        if attribute in _COUNTS:
            if counts is None:
                counts = _counts(self)
            result[attribute] = counts[attribute]
            continue
        name = _UNDERSCORED.get(attribute)
        if name is None:
            name = _UNDERSCORED.setdefault(attribute, camelcase_to_underscores(attribute))
        result[attribute] = getattr(self, name)
    if self.policy:
        result["Policy"] = self.policy
    if self.redrive_policy:
        result["RedrivePolicy"] = json.dumps(self.redrive_policy)
    for key in result:
        if isinstance(result[key], bool):
            result[key] = str(result[key]).lower()
    return result


def apply() -> None:
    """Patches moto's SQS model in this process (idempotent)."""
    models.Message.visible = property(_visible)
    models.Message.delayed = property(_delayed)
    models.Queue.attributes = property(_attributes)
    models.SQSBackend.is_message_valid_based_on_retention_period = (
        _is_message_valid_based_on_retention_period
    )
