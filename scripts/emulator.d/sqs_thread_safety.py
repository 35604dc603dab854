"""One SQS request at a time inside moto's SQS model, as far as its messages go.

moto serves requests on threads, and its `receive_message` is not safe against itself: two
receives at once walk the same list of visible messages, so both can take the same message (a
duplicate delivery real SQS never makes), or both move one message to the dead-letter queue, the
second failing with `ValueError` (an HTTP 500) after counting a receive for a message it never
returns. A consumer with several pollers meets this at once.

This module serialises the operations that read or change a queue's messages with one lock. A
long-polling receive gives the lock up while it waits for messages (moto waits in
`Queue.wait_for_messages`), so a waiting receive never holds back sends, deletes or other receives.
"""

from __future__ import annotations

import functools
import threading

from moto.sqs import models

_LOCK = threading.RLock()

_GUARDED = (
    "send_message",
    "send_message_batch",
    "receive_message",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
    "get_queue_attributes",
    "delete_queue",
)

_applied = False


def _guarded(method):
    @functools.wraps(method)
    def under_the_lock(*args, **kwargs):
        with _LOCK:
            return method(*args, **kwargs)

    return under_the_lock


def _waiting_without_the_lock(wait):
    @functools.wraps(wait)
    def wait_for_messages(self, timeout):
        # Only receive_message waits, holding the lock once; give it up while waiting.
        _LOCK.release()
        try:
            return wait(self, timeout)
        finally:
            _LOCK.acquire()

    return wait_for_messages


def apply() -> None:
    """Patches moto's SQS model in this process (once)."""
    global _applied
    if _applied:
        return
    for name in _GUARDED:
        setattr(models.SQSBackend, name, _guarded(getattr(models.SQSBackend, name)))
    models.Queue.wait_for_messages = _waiting_without_the_lock(models.Queue.wait_for_messages)
    _applied = True
