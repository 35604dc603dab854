"""Same behaviour, less work: the hot spots of moto's SQS model, patched at start-up.

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

With those gone, the per-message costs that remained (cProfile of send, receive and delete in
batches of ten, in process) were, largest first:

- `generate_receipt_handle`, run for every message received: 185 calls of `random.choice`, a
  sixth of all the time. `random.choices(..., k=185)` draws the same kind of handle (185 lowercase
  letters, from moto's seedable random) in one call.
- `Queue.messages` (each receive's list of visible messages) and the three counts read the clock
  twice per message in the queue; one reading per scan gives the same comparisons.
- `Queue.delete_message` scanned the queue twice per receipt handle (once to check, once to
  remove); one scan finds the message and removes it.
"""

from __future__ import annotations

import json
import string
import time

from moto.core.utils import camelcase_to_underscores
from moto.sqs import models
from moto.sqs import utils as sqs_utils
from moto.sqs.exceptions import ReceiptHandleIsInvalid

_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
)
_UNDERSCORED: dict[str, str] = {}

# moto's own, kept for the tests that compare against it.
ORIGINAL_ATTRIBUTES = models.Queue.attributes
ORIGINAL_MESSAGES = models.Queue.messages
ORIGINAL_DELETE_MESSAGE = models.Queue.delete_message


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
    now = _now_millis()
    for message in queue._messages:
        is_visible = now > message.visible_at
        is_delayed = now < message.delayed_until
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


def _messages(self) -> list:
    """The messages a receive may take now (visible and not delayed), as moto's property."""
    now = _now_millis()
    return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]


_RECEIPT_HANDLE_LENGTH = 185


def _generate_receipt_handle() -> str:
    """185 random lowercase letters from moto's (seedable) random, as moto's own."""
    return "".join(sqs_utils.random.choices(string.ascii_lowercase, k=_RECEIPT_HANDLE_LENGTH))


def _delete_message(self, receipt_handle: str) -> None:
    """moto's Queue.delete_message (idempotent for a deleted handle, an error for an unknown one)
    in one scan instead of two. A handle is drawn at random, so at most one message has had it."""
    if receipt_handle in self.deleted_messages:
        return
    for index, message in enumerate(self._messages):
        if message.had_receipt_handle(receipt_handle):
            break
    else:
        raise ReceiptHandleIsInvalid()
    self.pending_messages.discard(message)
    self.deleted_messages.update(message.all_receipt_handles)
    self._messages = self._messages[:index] + self._messages[index + 1 :]


def apply() -> None:
    """Patches moto's SQS model in this process (idempotent)."""
    models.Message.visible = property(_visible)
    models.Message.delayed = property(_delayed)
    models.Queue.attributes = property(_attributes)
    models.Queue.messages = property(_messages)
    models.Queue.delete_message = _delete_message
    sqs_utils.generate_receipt_handle = _generate_receipt_handle
    models.generate_receipt_handle = _generate_receipt_handle
    models.SQSBackend.is_message_valid_based_on_retention_period = (
        _is_message_valid_based_on_retention_period
    )
