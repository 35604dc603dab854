//! The conformance suite: SQS's semantics, written once as generic cases and run against every
//! [`Source`] through a [`QueueHarness`].
//!
//! `tests/tests/conformance_memory.rs` and `tests/tests/conformance_sqs.rs` stamp one test per case
//! with [`conformance_tests!`](crate::conformance_tests). Cases use real time with 1–2 s visibility
//! timeouts, so the same code runs against the emulator and the in-memory queue.
//!
//! Where the emulator (moto) is known to differ from real SQS, the case says so in a comment and
//! checks the real behaviour only when [`QueueHarness::differs_from_sqs`] says the harness follows
//! SQS there (see [`KnownDifference`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use workpool::{
    AttributeValue, MessageAttribute, QueueAttributes, RawMessage, ReceiveRequest, Source,
    VisibilityChange,
};
use workpool_sqs::OutgoingMessage;

/// Where a harness's queue is known to behave unlike Amazon SQS. Each variant says what SQS does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KnownDifference {
    /// SQS remembers a FIFO message's deduplication id for the whole 5-minute window, even after
    /// the message is deleted: a resend with the same id is accepted but not delivered. moto 5.2
    /// forgets the id when the message is deleted and delivers the resend.
    DeduplicationOutlivesDelete,
}

/// The settings of a queue a case needs. Defaults: standard, 1 s visibility timeout, no dead-letter
/// queue, no content-based deduplication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    fifo: bool,
    visibility_timeout: Duration,
    dead_letter_after: Option<u32>,
    content_based_dedup: bool,
}

impl QueueSettings {
    /// A standard queue with the defaults above.
    pub fn standard() -> Self {
        Self {
            fifo: false,
            visibility_timeout: Duration::from_secs(1),
            dead_letter_after: None,
            content_based_dedup: false,
        }
    }

    /// A FIFO queue with the defaults above.
    pub fn fifo() -> Self {
        Self {
            fifo: true,
            ..Self::standard()
        }
    }

    /// Sets the visibility timeout (whole seconds). Default: 1 s.
    pub fn visibility_timeout(mut self, timeout: Duration) -> Self {
        self.visibility_timeout = timeout;
        self
    }

    /// Gives the queue a dead-letter queue of the same kind, with this `maxReceiveCount`.
    /// Default: none.
    pub fn dead_letter_after(mut self, max_receive_count: u32) -> Self {
        self.dead_letter_after = Some(max_receive_count);
        self
    }

    /// Turns content-based deduplication on (FIFO only). Default: off.
    pub fn content_based_dedup(mut self, enabled: bool) -> Self {
        self.content_based_dedup = enabled;
        self
    }

    /// True for a FIFO queue.
    pub fn is_fifo(&self) -> bool {
        self.fifo
    }

    /// The visibility timeout.
    pub fn get_visibility_timeout(&self) -> Duration {
        self.visibility_timeout
    }

    /// The dead-letter queue's `maxReceiveCount`, when there is one.
    pub fn get_dead_letter_after(&self) -> Option<u32> {
        self.dead_letter_after
    }

    /// True when content-based deduplication is on.
    pub fn is_content_based_dedup(&self) -> bool {
        self.content_based_dedup
    }
}

/// A queue a harness made, and its dead-letter queue when the settings asked for one.
#[derive(Debug, Clone)]
pub struct HarnessQueue<S> {
    /// The queue.
    pub queue: S,
    /// Its dead-letter queue.
    pub dead_letter: Option<S>,
}

/// What the suite needs from a backend: make queues, send to them, and say where it differs from SQS.
pub trait QueueHarness {
    /// The source under test.
    type Source: Source;

    /// Creates a fresh queue (named after `prefix`) with these settings, plus its dead-letter queue.
    fn create(
        &self,
        prefix: &str,
        settings: &QueueSettings,
    ) -> impl Future<Output = HarnessQueue<Self::Source>>;

    /// Sends a message and returns its message id; panics when the queue refuses it.
    fn send(&self, queue: &Self::Source, message: OutgoingMessage) -> impl Future<Output = String>;

    /// True when this backend is known to behave unlike SQS in this respect.
    fn differs_from_sqs(&self, difference: KnownDifference) -> bool;
}

/// Stamps one `#[tokio::test]` per conformance case, each building its harness with `$harness`
/// (an expression, which may `.await`).
#[macro_export]
macro_rules! conformance_tests {
    ($harness:expr) => {
        $crate::conformance_tests!(@cases $harness;
            visibility_expiry_redelivers_with_a_new_receipt_handle,
            a_deleted_message_is_not_received_again,
            receive_counts_rise_with_every_receive,
            a_receive_can_set_its_own_visibility_timeout,
            a_message_moves_to_the_dead_letter_queue_after_max_receive_count,
            a_fifo_queue_keeps_order_within_a_group_and_locks_the_group_in_flight,
            a_fifo_queue_drops_a_repeated_deduplication_id,
            a_batch_delete_with_one_bad_receipt_handle_reports_it_and_deletes_the_rest,
            a_batch_visibility_change_with_one_bad_receipt_handle_reports_it_and_changes_the_rest,
            approximate_counts_match_visible_in_flight_and_delayed_messages,
            queue_attributes_report_the_kind_and_visibility_timeout,
            message_attributes_and_system_attributes_round_trip,
            a_long_poll_returns_as_soon_as_a_message_arrives,
        );
    };
    (@cases $harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let harness = $harness;
                $crate::conformance::$case(&harness).await;
            }
        )*
    };
}

/// How long a receive that expects messages waits for them.
const WAIT: Duration = Duration::from_secs(2);

/// A little more than the 1 s visibility timeout most cases use.
const PAST_VISIBILITY: Duration = Duration::from_millis(1_500);

/// Receives once; panics (naming the queue) when the request fails.
async fn receive<S: Source>(queue: &S, max: usize, wait: Duration) -> Vec<RawMessage> {
    queue
        .receive(ReceiveRequest::new(max, wait))
        .await
        .unwrap_or_else(|error| panic!("receive from {} failed: {error}", queue.name()))
}

/// Receives until `count` messages came (SQS may return fewer than are visible per call), or panics
/// after 5 s.
async fn receive_exactly<S: Source>(queue: &S, count: usize) -> Vec<RawMessage> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut received = Vec::new();
    while received.len() < count {
        assert!(
            Instant::now() < deadline,
            "{}: expected {count} messages, got {}: {received:?}",
            queue.name(),
            received.len()
        );
        received.extend(receive(queue, count - received.len(), WAIT).await);
    }
    assert_eq!(
        received.len(),
        count,
        "{}: more messages than expected",
        queue.name()
    );
    received
}

/// Asserts that nothing is received within `wait`.
async fn assert_nothing_received<S: Source>(queue: &S, wait: Duration, why: &str) {
    let received = receive(queue, 10, wait).await;
    assert!(
        received.is_empty(),
        "{}: {why}, but received {received:?}",
        queue.name()
    );
}

async fn attributes<S: Source>(queue: &S) -> QueueAttributes {
    queue
        .attributes()
        .await
        .unwrap_or_else(|error| panic!("attributes of {} failed: {error}", queue.name()))
}

/// Makes in-flight messages visible again at once.
async fn release<S: Source>(queue: &S, messages: &[RawMessage]) {
    let changes: Vec<VisibilityChange> = messages
        .iter()
        .map(|message| VisibilityChange {
            receipt_handle: message.metadata.receipt_handle.clone(),
            timeout: Duration::ZERO,
        })
        .collect();
    let outcome = queue
        .change_visibility_batch(&changes)
        .await
        .unwrap_or_else(|error| panic!("change visibility on {} failed: {error}", queue.name()));
    assert!(outcome.all_succeeded(), "{}: {outcome:?}", queue.name());
}

async fn delete<S: Source>(queue: &S, messages: &[RawMessage]) {
    let handles: Vec<String> = messages
        .iter()
        .map(|message| message.metadata.receipt_handle.clone())
        .collect();
    let outcome = queue
        .delete_batch(&handles)
        .await
        .unwrap_or_else(|error| panic!("delete on {} failed: {error}", queue.name()));
    assert!(outcome.all_succeeded(), "{}: {outcome:?}", queue.name());
}

fn bodies(messages: &[RawMessage]) -> Vec<&str> {
    messages
        .iter()
        .map(|message| message.body.as_str())
        .collect()
}

fn sorted_bodies(messages: &[RawMessage]) -> Vec<&str> {
    let mut bodies = bodies(messages);
    bodies.sort_unstable();
    bodies
}

/// A message whose visibility timeout runs out is delivered again, with a new receipt handle and
/// receive count 2; it stays hidden until then.
pub async fn visibility_expiry_redelivers_with_a_new_receipt_handle<H: QueueHarness>(harness: &H) {
    let queue = harness
        .create("visibility", &QueueSettings::standard())
        .await
        .queue;
    let id = harness
        .send(&queue, OutgoingMessage::new("redeliver me"))
        .await;

    let first = receive_exactly(&queue, 1).await.remove(0);
    assert_eq!(
        (
            first.metadata.message_id.as_str(),
            first.metadata.receive_count
        ),
        (id.as_str(), 1)
    );
    assert_nothing_received(&queue, Duration::ZERO, "the message is in flight").await;

    tokio::time::sleep(PAST_VISIBILITY).await;
    let second = receive_exactly(&queue, 1).await.remove(0);
    assert_eq!(second.metadata.message_id, id);
    assert_eq!(second.metadata.receive_count, 2);
    assert_ne!(
        second.metadata.receipt_handle, first.metadata.receipt_handle,
        "each receive has its own handle"
    );
    assert_eq!(second.body, "redeliver me");
    assert!(second.metadata.first_received_at.is_some());
    assert_eq!(
        second.metadata.first_received_at, first.metadata.first_received_at,
        "first receive time is kept"
    );
}

/// A deleted message is gone: not received after its visibility timeout would have run out, and
/// not counted.
pub async fn a_deleted_message_is_not_received_again<H: QueueHarness>(harness: &H) {
    let queue = harness
        .create("delete", &QueueSettings::standard())
        .await
        .queue;
    harness
        .send(&queue, OutgoingMessage::new("delete me"))
        .await;
    let received = receive_exactly(&queue, 1).await;
    delete(&queue, &received).await;

    tokio::time::sleep(PAST_VISIBILITY).await;
    assert_nothing_received(&queue, Duration::from_secs(1), "the message was deleted").await;
    let counts = attributes(&queue).await;
    assert_eq!(
        (counts.visible, counts.not_visible, counts.delayed),
        (0, 0, 0)
    );
}

/// Every receive of the same message counts: 1, 2, 3, with the same message id.
pub async fn receive_counts_rise_with_every_receive<H: QueueHarness>(harness: &H) {
    let settings = QueueSettings::standard().visibility_timeout(Duration::from_secs(30));
    let queue = harness.create("counts-rise", &settings).await.queue;
    let id = harness.send(&queue, OutgoingMessage::new("count me")).await;
    for expected in 1..=3 {
        let message = receive_exactly(&queue, 1).await;
        assert_eq!(message[0].metadata.message_id, id);
        assert_eq!(message[0].metadata.receive_count, expected);
        release(&queue, &message).await;
    }
}

/// A receive's own visibility timeout overrides the queue's default for the messages it returns.
pub async fn a_receive_can_set_its_own_visibility_timeout<H: QueueHarness>(harness: &H) {
    let settings = QueueSettings::standard().visibility_timeout(Duration::from_secs(30));
    let queue = harness.create("receive-visibility", &settings).await.queue;
    let id = harness
        .send(&queue, OutgoingMessage::new("short lease"))
        .await;

    let request = ReceiveRequest::new(1, WAIT).with_visibility_timeout(Duration::from_secs(1));
    let first = queue.receive(request).await.expect("receive");
    assert_eq!(first.len(), 1, "{first:?}");
    tokio::time::sleep(PAST_VISIBILITY).await;
    let again = receive_exactly(&queue, 1).await;
    assert_eq!(
        (
            again[0].metadata.message_id.as_str(),
            again[0].metadata.receive_count
        ),
        (id.as_str(), 2)
    );
}

/// After `maxReceiveCount` receives, the next receive moves the message to the dead-letter queue,
/// where it keeps its id and body.
pub async fn a_message_moves_to_the_dead_letter_queue_after_max_receive_count<H: QueueHarness>(
    harness: &H,
) {
    let settings = QueueSettings::standard().dead_letter_after(2);
    let queues = harness.create("redrive", &settings).await;
    let dead_letter = queues
        .dead_letter
        .expect("the harness made a dead-letter queue");
    let id = harness
        .send(&queues.queue, OutgoingMessage::new("poison"))
        .await;

    for expected in 1..=2 {
        let message = receive_exactly(&queues.queue, 1).await;
        assert_eq!(message[0].metadata.receive_count, expected);
        release(&queues.queue, &message).await;
    }
    assert_nothing_received(
        &queues.queue,
        Duration::from_secs(1),
        "the message was redriven",
    )
    .await;

    let moved = receive_exactly(&dead_letter, 1).await;
    assert_eq!(
        (
            moved[0].metadata.message_id.as_str(),
            moved[0].body.as_str()
        ),
        (id.as_str(), "poison")
    );
    let counts = attributes(&queues.queue).await;
    assert_eq!((counts.visible, counts.not_visible), (0, 0));
}

/// A FIFO queue delivers a group's messages in send order, and while one of them is in flight no
/// other message of that group is delivered; other groups go on.
pub async fn a_fifo_queue_keeps_order_within_a_group_and_locks_the_group_in_flight<
    H: QueueHarness,
>(
    harness: &H,
) {
    let settings = QueueSettings::fifo().visibility_timeout(Duration::from_secs(30));
    let queue = harness.create("fifo-order", &settings).await.queue;
    for (body, group) in [
        ("a1", "a"),
        ("a2", "a"),
        ("b1", "b"),
        ("a3", "a"),
        ("b2", "b"),
    ] {
        let message = OutgoingMessage::new(body)
            .group_id(group)
            .deduplication_id(body);
        harness.send(&queue, message).await;
    }

    let first = receive(&queue, 1, WAIT).await;
    assert_eq!(bodies(&first), ["a1"], "the oldest message comes first");

    let others = receive(&queue, 10, Duration::ZERO).await;
    assert_eq!(
        bodies(&others),
        ["b1", "b2"],
        "group a is locked while a1 is in flight"
    );
    delete(&queue, &others).await;
    delete(&queue, &first).await;
    let rest = receive(&queue, 10, WAIT).await;
    assert_eq!(bodies(&rest), ["a2", "a3"], "group a resumes in order");
    delete(&queue, &rest).await;
    let counts = attributes(&queue).await;
    assert_eq!((counts.visible, counts.not_visible), (0, 0));
}

/// A FIFO message whose deduplication id was seen within 5 minutes is accepted but not delivered;
/// with content-based deduplication the body is the id.
pub async fn a_fifo_queue_drops_a_repeated_deduplication_id<H: QueueHarness>(harness: &H) {
    let queue = harness
        .create("fifo-dedup", &QueueSettings::fifo())
        .await
        .queue;
    let first = harness
        .send(
            &queue,
            OutgoingMessage::new("one")
                .group_id("g")
                .deduplication_id("d"),
        )
        .await;
    harness
        .send(
            &queue,
            OutgoingMessage::new("two")
                .group_id("g")
                .deduplication_id("d"),
        )
        .await;
    harness
        .send(
            &queue,
            OutgoingMessage::new("three")
                .group_id("g")
                .deduplication_id("e"),
        )
        .await;

    let received = receive(&queue, 10, WAIT).await;
    assert_eq!(bodies(&received), ["one", "three"]);
    assert_eq!(received[0].metadata.message_id, first);
    assert_eq!(received[0].metadata.deduplication_id.as_deref(), Some("d"));
    assert_eq!(received[0].metadata.group_id.as_deref(), Some("g"));
    assert!(
        received[0].metadata.sequence_number.is_some(),
        "FIFO messages carry a sequence number"
    );
    delete(&queue, &received).await;

    // Real SQS keeps the id for the whole window even after the delete; moto 5.2 forgets it.
    if !harness.differs_from_sqs(KnownDifference::DeduplicationOutlivesDelete) {
        let resend = OutgoingMessage::new("one again")
            .group_id("g")
            .deduplication_id("d");
        harness.send(&queue, resend).await;
        assert_nothing_received(
            &queue,
            Duration::from_secs(1),
            "`d` is still within its window",
        )
        .await;
    }

    let settings = QueueSettings::fifo().content_based_dedup(true);
    let by_content = harness.create("fifo-content-dedup", &settings).await.queue;
    harness
        .send(&by_content, OutgoingMessage::new("same").group_id("g"))
        .await;
    harness
        .send(&by_content, OutgoingMessage::new("same").group_id("g"))
        .await;
    harness
        .send(&by_content, OutgoingMessage::new("other").group_id("g"))
        .await;
    let received = receive(&by_content, 10, WAIT).await;
    assert_eq!(bodies(&received), ["same", "other"]);
}

/// One bad receipt handle in a batch delete fails that entry only, by its index; the others are
/// deleted (and only the message whose handle was not in the batch comes back).
pub async fn a_batch_delete_with_one_bad_receipt_handle_reports_it_and_deletes_the_rest<
    H: QueueHarness,
>(
    harness: &H,
) {
    let queue = harness
        .create("batch-delete", &QueueSettings::standard())
        .await
        .queue;
    for body in ["m0", "m1", "m2"] {
        harness.send(&queue, OutgoingMessage::new(body)).await;
    }
    let mut received = receive_exactly(&queue, 3).await;
    received.sort_by(|a, b| a.body.cmp(&b.body));

    let handles = vec![
        received[0].metadata.receipt_handle.clone(),
        "not-a-receipt-handle".to_owned(),
        received[2].metadata.receipt_handle.clone(),
    ];
    let outcome = queue.delete_batch(&handles).await.expect("delete batch");
    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    assert_eq!(outcome.failed[0].index, 1);
    assert_eq!(outcome.failed[0].code, "ReceiptHandleIsInvalid");
    assert!(outcome.failed[0].sender_fault);

    tokio::time::sleep(PAST_VISIBILITY).await;
    let back = receive_exactly(&queue, 1).await;
    assert_eq!(
        bodies(&back),
        ["m1"],
        "m0 and m2 were deleted; m1 was not in the batch"
    );
    assert_nothing_received(&queue, Duration::ZERO, "only m1 was left").await;
}

/// One bad receipt handle in a batch visibility change fails that entry only; the others change.
pub async fn a_batch_visibility_change_with_one_bad_receipt_handle_reports_it_and_changes_the_rest<
    H: QueueHarness,
>(
    harness: &H,
) {
    let settings = QueueSettings::standard().visibility_timeout(Duration::from_secs(30));
    let queue = harness.create("batch-visibility", &settings).await.queue;
    for body in ["m0", "m1", "m2"] {
        harness.send(&queue, OutgoingMessage::new(body)).await;
    }
    let mut received = receive_exactly(&queue, 3).await;
    received.sort_by(|a, b| a.body.cmp(&b.body));

    let change = |handle: &str| VisibilityChange {
        receipt_handle: handle.to_owned(),
        timeout: Duration::ZERO,
    };
    let changes = [
        change(&received[0].metadata.receipt_handle),
        change("not-a-receipt-handle"),
        change(&received[2].metadata.receipt_handle),
    ];
    let outcome = queue
        .change_visibility_batch(&changes)
        .await
        .expect("change visibility batch");
    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    assert_eq!(outcome.failed[0].index, 1);
    assert_eq!(outcome.failed[0].code, "ReceiptHandleIsInvalid");

    let back = receive_exactly(&queue, 2).await;
    assert_eq!(
        sorted_bodies(&back),
        ["m0", "m2"],
        "m1 stays in flight for 30 s"
    );
    assert_nothing_received(&queue, Duration::ZERO, "m1 is still in flight").await;
}

/// `ApproximateNumberOf*` counts visible, in-flight and delayed messages. (Real SQS's counts are
/// eventually consistent and may lag by up to a minute; the emulator and MemoryQueue are exact.)
pub async fn approximate_counts_match_visible_in_flight_and_delayed_messages<H: QueueHarness>(
    harness: &H,
) {
    let settings = QueueSettings::standard().visibility_timeout(Duration::from_secs(30));
    let queue = harness.create("counts", &settings).await.queue;
    for body in ["v0", "v1", "v2"] {
        harness.send(&queue, OutgoingMessage::new(body)).await;
    }
    harness
        .send(
            &queue,
            OutgoingMessage::new("later").delay(Duration::from_secs(30)),
        )
        .await;
    let in_flight = receive_exactly(&queue, 1).await;
    assert_ne!(
        in_flight[0].body, "later",
        "a delayed message is not delivered early"
    );

    let counts = attributes(&queue).await;
    assert_eq!(
        (counts.visible, counts.not_visible, counts.delayed),
        (2, 1, 1),
        "{counts:?}"
    );
}

/// The attributes report the queue's kind and default visibility timeout.
pub async fn queue_attributes_report_the_kind_and_visibility_timeout<H: QueueHarness>(harness: &H) {
    let settings = QueueSettings::standard().visibility_timeout(Duration::from_secs(7));
    let standard = harness.create("attributes", &settings).await.queue;
    let read = attributes(&standard).await;
    assert_eq!(
        (read.fifo, read.visibility_timeout),
        (false, Duration::from_secs(7))
    );

    let fifo = harness
        .create("attributes", &QueueSettings::fifo())
        .await
        .queue;
    let read = attributes(&fifo).await;
    assert_eq!(
        (read.fifo, read.visibility_timeout),
        (true, Duration::from_secs(1))
    );
}

/// String, Number, Binary and custom-typed attributes come back as sent, with the send time.
pub async fn message_attributes_and_system_attributes_round_trip<H: QueueHarness>(harness: &H) {
    let queue = harness
        .create("message-attributes", &QueueSettings::standard())
        .await
        .queue;
    let mut expected = BTreeMap::new();
    expected.insert("text".to_owned(), MessageAttribute::string("héllo"));
    expected.insert("count".to_owned(), MessageAttribute::number(42));
    expected.insert(
        "blob".to_owned(),
        MessageAttribute::binary(vec![0u8, 159, 255]),
    );
    expected.insert(
        "json".to_owned(),
        MessageAttribute {
            data_type: "String.json".into(),
            value: AttributeValue::Text("{}".into()),
        },
    );
    let mut message = OutgoingMessage::new("with attributes");
    for (name, attribute) in &expected {
        message = message.attribute(name.clone(), attribute.clone());
    }
    let before = std::time::SystemTime::now() - Duration::from_secs(5);
    harness.send(&queue, message).await;

    let received = receive_exactly(&queue, 1).await.remove(0);
    assert_eq!(received.metadata.attributes, expected);
    let sent_at = received.metadata.sent_at.expect("SentTimestamp");
    assert!(sent_at >= before, "sent at {sent_at:?}");
    assert!(
        received
            .metadata
            .first_received_at
            .expect("ApproximateFirstReceiveTimestamp")
            >= sent_at
    );
    assert_eq!(received.metadata.group_id, None);
}

/// A long poll returns as soon as a message arrives, not when its wait runs out.
pub async fn a_long_poll_returns_as_soon_as_a_message_arrives<H: QueueHarness>(harness: &H) {
    let queue = harness
        .create("long-poll", &QueueSettings::standard())
        .await
        .queue;
    let started = Instant::now();
    let (received, ()) = tokio::join!(receive(&queue, 10, Duration::from_secs(10)), async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        harness.send(&queue, OutgoingMessage::new("wake up")).await;
    });
    let waited = started.elapsed();
    assert_eq!(bodies(&received), ["wake up"]);
    assert!(
        waited < Duration::from_secs(5),
        "the long poll waited {waited:?}"
    );
}
