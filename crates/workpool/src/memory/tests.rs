//! Behaviour tests of [`MemoryQueue`] through its public API, under paused time.

use crate::OutgoingMessage;
use std::time::Duration;

use tokio::time::{advance, Instant};

use super::{MemoryQueue, QueueConfig, DEDUPLICATION_WINDOW};
use crate::{
    Error, MessageAttribute, QueueAttributes, RawMessage, ReceiveRequest, Source, VisibilityChange,
    MAX_VISIBILITY,
};

const SECOND: Duration = Duration::from_secs(1);

fn standard(name: &str) -> MemoryQueue {
    MemoryQueue::new(QueueConfig::standard(name)).unwrap()
}

fn fifo(name: &str) -> MemoryQueue {
    MemoryQueue::new(QueueConfig::fifo(name)).unwrap()
}

async fn receive(queue: &MemoryQueue, max: usize) -> Vec<RawMessage> {
    queue
        .receive(ReceiveRequest::new(max, Duration::ZERO))
        .await
        .unwrap()
}

fn bodies(messages: &[RawMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.body.as_str()).collect()
}

fn counts(queue: &MemoryQueue) -> (u64, u64, u64) {
    let QueueAttributes {
        visible,
        not_visible,
        delayed,
        ..
    } = queue.attributes_now();
    (visible, not_visible, delayed)
}

fn handles(messages: &[RawMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.metadata.receipt_handle.clone())
        .collect()
}

fn change(handle: &str, timeout: Duration) -> VisibilityChange {
    VisibilityChange {
        receipt_handle: handle.to_owned(),
        timeout,
    }
}

fn codes(outcome: &crate::BatchOutcome) -> Vec<(usize, &str)> {
    outcome
        .failed
        .iter()
        .map(|f| (f.index, f.code.as_str()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn visibility_expiry_redelivers_with_a_higher_receive_count_and_a_new_handle() {
    let queue =
        MemoryQueue::new(QueueConfig::standard("jobs").visibility_timeout(30 * SECOND)).unwrap();
    let sent = queue.send(OutgoingMessage::new("hello")).unwrap();
    let first = receive(&queue, 10).await;
    assert_eq!(first.len(), 1);
    assert_eq!(
        (
            first[0].metadata.message_id.as_str(),
            first[0].metadata.receive_count
        ),
        (sent.message_id.as_str(), 1)
    );
    assert_eq!(counts(&queue), (0, 1, 0));

    advance(29 * SECOND).await;
    assert!(receive(&queue, 10).await.is_empty(), "still hidden");
    advance(SECOND).await;
    let second = receive(&queue, 10).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].metadata.message_id, sent.message_id);
    assert_eq!(second[0].metadata.receive_count, 2);
    assert_ne!(
        second[0].metadata.receipt_handle,
        first[0].metadata.receipt_handle
    );
    assert_eq!(
        second[0].metadata.first_received_at,
        first[0].metadata.first_received_at
    );
    assert_eq!(second[0].metadata.sent_at, first[0].metadata.sent_at);
    assert!(second[0].metadata.first_received_at.unwrap() >= second[0].metadata.sent_at.unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_receive_may_set_its_own_visibility_timeout() {
    let queue = standard("jobs");
    queue.send(OutgoingMessage::new("m")).unwrap();
    let request = ReceiveRequest::new(1, Duration::ZERO).with_visibility_timeout(5 * SECOND);
    assert_eq!(queue.receive(request).await.unwrap().len(), 1);
    advance(5 * SECOND).await;
    assert_eq!(receive(&queue, 1).await[0].metadata.receive_count, 2);
}

#[tokio::test(start_paused = true)]
async fn delete_removes_the_message_for_good() {
    let queue = standard("jobs");
    queue
        .send_batch(vec![OutgoingMessage::new("a"), OutgoingMessage::new("b")])
        .unwrap();
    let received = receive(&queue, 10).await;
    assert_eq!(bodies(&received), ["a", "b"]);
    let outcome = queue.delete_batch(&handles(&received)).await.unwrap();
    assert!(outcome.all_succeeded());
    assert_eq!(counts(&queue), (0, 0, 0));
    assert!(queue.is_empty());
    advance(Duration::from_secs(3600)).await;
    assert!(receive(&queue, 10).await.is_empty());
    let again = queue.delete_batch(&handles(&received)).await.unwrap();
    assert!(
        again.all_succeeded(),
        "deleting an already deleted message succeeds, as in SQS"
    );
}

#[tokio::test(start_paused = true)]
async fn a_bad_handle_fails_only_its_entry() {
    let queue = standard("jobs");
    for body in ["a", "b", "c"] {
        queue.send(OutgoingMessage::new(body)).unwrap();
    }
    let received = receive(&queue, 10).await;
    let mut batch = handles(&received);
    batch.insert(1, "not-a-handle".into());
    batch.insert(3, "4000:0".into());
    batch.insert(4, format!("{}9", received[0].metadata.receipt_handle));
    let outcome = queue.delete_batch(&batch).await.unwrap();
    assert_eq!(
        codes(&outcome),
        [
            (1, "ReceiptHandleIsInvalid"),
            (3, "ReceiptHandleIsInvalid"),
            (4, "ReceiptHandleIsInvalid")
        ]
    );
    assert!(outcome
        .failed
        .iter()
        .all(|f| f.sender_fault && !f.message.is_empty()));
    assert!(queue.is_empty(), "the valid entries were deleted");
}

#[tokio::test(start_paused = true)]
async fn a_stale_handle_is_accepted_by_delete_but_deletes_nothing() {
    let queue =
        MemoryQueue::new(QueueConfig::standard("jobs").visibility_timeout(10 * SECOND)).unwrap();
    queue.send(OutgoingMessage::new("m")).unwrap();
    let first = receive(&queue, 1).await;
    advance(10 * SECOND).await;
    let second = receive(&queue, 1).await;
    let outcome = queue.delete_batch(&handles(&first)).await.unwrap();
    assert!(outcome.all_succeeded());
    assert_eq!(counts(&queue), (0, 1, 0), "only the latest handle deletes");
    let stale_change = queue
        .change_visibility_batch(&[change(&first[0].metadata.receipt_handle, SECOND)])
        .await
        .unwrap();
    assert_eq!(codes(&stale_change), [(0, "MessageNotInflight")]);
    assert!(queue
        .delete_batch(&handles(&second))
        .await
        .unwrap()
        .all_succeeded());
    assert!(queue.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_latest_handle_deletes_a_message_visible_again() {
    let queue = MemoryQueue::new(QueueConfig::standard("jobs").visibility_timeout(SECOND)).unwrap();
    queue.send(OutgoingMessage::new("m")).unwrap();
    let received = receive(&queue, 1).await;
    advance(2 * SECOND).await;
    assert_eq!(counts(&queue), (1, 0, 0));
    assert!(queue
        .delete_batch(&handles(&received))
        .await
        .unwrap()
        .all_succeeded());
    assert!(queue.is_empty());
    assert!(receive(&queue, 1).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn change_visibility_extends_releases_and_refuses_what_sqs_refuses() {
    let queue =
        MemoryQueue::new(QueueConfig::standard("jobs").visibility_timeout(10 * SECOND)).unwrap();
    queue
        .send_batch(vec![OutgoingMessage::new("a"), OutgoingMessage::new("b")])
        .unwrap();
    let received = receive(&queue, 2).await;
    let (a, b) = (
        &received[0].metadata.receipt_handle,
        &received[1].metadata.receipt_handle,
    );

    let outcome = queue
        .change_visibility_batch(&[
            change(a, 60 * SECOND),
            change(b, Duration::ZERO),
            change("x", SECOND),
        ])
        .await
        .unwrap();
    assert_eq!(codes(&outcome), [(2, "ReceiptHandleIsInvalid")]);
    assert_eq!(counts(&queue), (1, 1, 0), "b is visible at once");

    let on_visible = queue
        .change_visibility_batch(&[change(b, SECOND)])
        .await
        .unwrap();
    assert_eq!(codes(&on_visible), [(0, "MessageNotInflight")]);

    advance(30 * SECOND).await;
    assert_eq!(
        counts(&queue),
        (1, 1, 0),
        "a stays hidden past the queue's 10 s"
    );
    advance(30 * SECOND).await;
    assert_eq!(counts(&queue), (2, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn visibility_ends_at_most_twelve_hours_after_the_receive() {
    let queue = standard("jobs");
    queue.send(OutgoingMessage::new("m")).unwrap();
    let handle = receive(&queue, 1).await.remove(0).metadata.receipt_handle;
    advance(Duration::from_secs(3600)).await;
    let too_far = queue
        .change_visibility_batch(&[change(&handle, MAX_VISIBILITY)])
        .await
        .unwrap();
    assert_eq!(codes(&too_far), [(0, "InvalidParameterValue")]);
    let up_to_cap = MAX_VISIBILITY - Duration::from_secs(3600);
    assert!(queue
        .change_visibility_batch(&[change(&handle, up_to_cap)])
        .await
        .unwrap()
        .all_succeeded());
}

#[tokio::test(start_paused = true)]
async fn redrive_moves_a_message_received_max_receive_count_times() {
    let dead_letters = standard("jobs-dlq");
    let queue = MemoryQueue::new(
        QueueConfig::standard("jobs")
            .visibility_timeout(SECOND)
            .redrive(dead_letters.clone(), 2),
    )
    .unwrap();
    assert_eq!(
        queue.dead_letter_queue().map(MemoryQueue::name),
        Some("jobs-dlq")
    );
    let sent = queue
        .send(OutgoingMessage::new("poison").attribute("kind", MessageAttribute::string("bad")))
        .unwrap();
    queue.send(OutgoingMessage::new("fine")).unwrap();
    assert_eq!(receive(&queue, 10).await.len(), 2);
    advance(SECOND).await;
    let second = receive(&queue, 10).await;
    assert_eq!(
        second
            .iter()
            .map(|m| m.metadata.receive_count)
            .collect::<Vec<_>>(),
        [2, 2]
    );
    queue
        .delete_batch(&[second[1].metadata.receipt_handle.clone()])
        .await
        .unwrap();
    advance(SECOND).await;
    assert!(
        receive(&queue, 10).await.is_empty(),
        "a third receive moves it instead"
    );
    assert!(queue.is_empty());
    assert_eq!(counts(&dead_letters), (1, 0, 0));
    let moved = receive(&dead_letters, 10).await;
    assert_eq!(moved[0].metadata.message_id, sent.message_id);
    assert_eq!(moved[0].body, "poison");
    assert_eq!(
        moved[0].metadata.attributes["kind"],
        MessageAttribute::string("bad")
    );
    assert_eq!(
        moved[0].metadata.receive_count, 3,
        "the receive count carries over"
    );
}

#[tokio::test(start_paused = true)]
async fn delays_hide_new_messages_and_are_counted() {
    let queue = MemoryQueue::new(QueueConfig::standard("jobs").delay(10 * SECOND)).unwrap();
    queue.send(OutgoingMessage::new("queue delay")).unwrap();
    queue
        .send(OutgoingMessage::new("own delay").delay(3 * SECOND))
        .unwrap();
    queue
        .send(OutgoingMessage::new("no delay").delay(Duration::ZERO))
        .unwrap();
    assert_eq!(counts(&queue), (1, 0, 2));
    assert_eq!(bodies(&receive(&queue, 10).await), ["no delay"]);
    advance(3 * SECOND).await;
    assert_eq!(counts(&queue), (1, 1, 1));
    assert_eq!(bodies(&receive(&queue, 10).await), ["own delay"]);
    advance(7 * SECOND).await;
    assert_eq!(bodies(&receive(&queue, 10).await), ["queue delay"]);
    assert_eq!(counts(&queue), (0, 3, 0));
}

#[tokio::test(start_paused = true)]
async fn fifo_locks_a_group_while_a_message_is_in_flight_and_keeps_order() {
    let queue =
        MemoryQueue::new(QueueConfig::fifo("jobs.fifo").content_based_deduplication(true)).unwrap();
    for (group, body) in [("g1", "a"), ("g1", "b"), ("g2", "x"), ("g1", "c")] {
        queue
            .send(OutgoingMessage::new(body).group_id(group))
            .unwrap();
    }
    let first = receive(&queue, 1).await;
    assert_eq!(bodies(&first), ["a"]);
    assert_eq!(first[0].metadata.group_id.as_deref(), Some("g1"));
    assert_eq!(bodies(&receive(&queue, 10).await), ["x"], "g1 is locked");
    assert!(receive(&queue, 10).await.is_empty(), "both groups locked");
    assert_eq!(counts(&queue), (2, 2, 0));
    queue.delete_batch(&handles(&first)).await.unwrap();
    let rest = receive(&queue, 10).await;
    assert_eq!(
        bodies(&rest),
        ["b", "c"],
        "one receive returns the group's messages in order"
    );
    let sequence: Vec<&str> = rest
        .iter()
        .map(|m| m.metadata.sequence_number.as_deref().unwrap())
        .collect();
    assert!(sequence[0] < sequence[1]);
}

#[tokio::test(start_paused = true)]
async fn fifo_redelivers_a_group_in_order_after_its_timeout() {
    let queue = MemoryQueue::new(
        QueueConfig::fifo("jobs.fifo")
            .content_based_deduplication(true)
            .visibility_timeout(5 * SECOND),
    )
    .unwrap();
    for body in ["1", "2", "3"] {
        queue
            .send(OutgoingMessage::new(body).group_id("g"))
            .unwrap();
    }
    let first = receive(&queue, 2).await;
    assert_eq!(bodies(&first), ["1", "2"]);
    queue
        .delete_batch(&[first[1].metadata.receipt_handle.clone()])
        .await
        .unwrap();
    assert!(receive(&queue, 10).await.is_empty(), "1 is still in flight");
    advance(5 * SECOND).await;
    let again = receive(&queue, 10).await;
    assert_eq!(bodies(&again), ["1", "3"]);
    assert_eq!(again[0].metadata.receive_count, 2);
}

#[tokio::test(start_paused = true)]
async fn fifo_changing_visibility_to_zero_unlocks_the_group() {
    let queue =
        MemoryQueue::new(QueueConfig::fifo("jobs.fifo").content_based_deduplication(true)).unwrap();
    queue
        .send_batch(vec![
            OutgoingMessage::new("1").group_id("g"),
            OutgoingMessage::new("2").group_id("g"),
        ])
        .unwrap();
    let first = receive(&queue, 10).await;
    assert_eq!(bodies(&first), ["1", "2"]);
    let release: Vec<_> = first
        .iter()
        .map(|m| change(&m.metadata.receipt_handle, Duration::ZERO))
        .collect();
    queue.change_visibility_batch(&release).await.unwrap();
    assert_eq!(bodies(&receive(&queue, 1).await), ["1"]);
}

#[tokio::test(start_paused = true)]
async fn fifo_redrive_keeps_the_group_and_lets_the_next_message_through() {
    let dead_letters = fifo("jobs-dlq.fifo");
    let queue = MemoryQueue::new(
        QueueConfig::fifo("jobs.fifo")
            .content_based_deduplication(true)
            .visibility_timeout(SECOND)
            .redrive(dead_letters.clone(), 1),
    )
    .unwrap();
    queue
        .send_batch(vec![
            OutgoingMessage::new("1").group_id("g"),
            OutgoingMessage::new("2").group_id("g"),
        ])
        .unwrap();
    assert_eq!(bodies(&receive(&queue, 1).await), ["1"]);
    advance(SECOND).await;
    assert_eq!(
        bodies(&receive(&queue, 1).await),
        ["2"],
        "1 went to the dead-letter queue"
    );
    let moved = receive(&dead_letters, 10).await;
    assert_eq!(bodies(&moved), ["1"]);
    assert_eq!(moved[0].metadata.group_id.as_deref(), Some("g"));
}

#[tokio::test(start_paused = true)]
async fn fifo_deduplicates_within_five_minutes_only() {
    let queue = fifo("jobs.fifo");
    let original = queue
        .send(
            OutgoingMessage::new("a")
                .group_id("g")
                .deduplication_id("d1"),
        )
        .unwrap();
    let duplicate = queue
        .send(
            OutgoingMessage::new("other body")
                .group_id("h")
                .deduplication_id("d1"),
        )
        .unwrap();
    assert_eq!(
        duplicate, original,
        "a duplicate answers with the original's id and sequence number"
    );
    assert_eq!(queue.len(), 1);

    let received = receive(&queue, 10).await;
    assert_eq!(received[0].metadata.deduplication_id.as_deref(), Some("d1"));
    queue.delete_batch(&handles(&received)).await.unwrap();
    advance(DEDUPLICATION_WINDOW - SECOND).await;
    queue
        .send(
            OutgoingMessage::new("a")
                .group_id("g")
                .deduplication_id("d1"),
        )
        .unwrap();
    assert!(
        queue.is_empty(),
        "still a duplicate, even though the original was deleted"
    );

    advance(SECOND).await;
    let later = queue
        .send(
            OutgoingMessage::new("a")
                .group_id("g")
                .deduplication_id("d1"),
        )
        .unwrap();
    assert_ne!(later.message_id, original.message_id);
    assert!(later.sequence_number > original.sequence_number);
    assert_eq!(queue.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn content_based_deduplication_hashes_the_body() {
    let queue =
        MemoryQueue::new(QueueConfig::fifo("jobs.fifo").content_based_deduplication(true)).unwrap();
    let first = queue
        .send(OutgoingMessage::new("same").group_id("g1"))
        .unwrap();
    let second = queue
        .send(OutgoingMessage::new("same").group_id("g2"))
        .unwrap();
    assert_eq!(first, second);
    let explicit = queue
        .send(
            OutgoingMessage::new("same")
                .group_id("g1")
                .deduplication_id("own"),
        )
        .unwrap();
    assert_ne!(
        explicit.message_id, first.message_id,
        "an explicit id wins over the hash"
    );
    queue
        .send(OutgoingMessage::new("different").group_id("g1"))
        .unwrap();
    assert_eq!(queue.len(), 3);
    let received = receive(&queue, 10).await;
    assert_eq!(
        received[0]
            .metadata
            .deduplication_id
            .as_deref()
            .map(str::len),
        Some(64)
    );
    advance(DEDUPLICATION_WINDOW).await;
    queue
        .send(OutgoingMessage::new("same").group_id("g1"))
        .unwrap();
    assert_eq!(queue.len(), 4);
}

#[tokio::test(start_paused = true)]
async fn fifo_queue_delay_applies_in_order() {
    let queue = MemoryQueue::new(
        QueueConfig::fifo("jobs.fifo")
            .content_based_deduplication(true)
            .delay(5 * SECOND),
    )
    .unwrap();
    queue.send(OutgoingMessage::new("1").group_id("g")).unwrap();
    advance(SECOND).await;
    queue.send(OutgoingMessage::new("2").group_id("g")).unwrap();
    assert_eq!(counts(&queue), (0, 0, 2));
    advance(4 * SECOND).await;
    assert_eq!(bodies(&receive(&queue, 10).await), ["1"]);
}

#[tokio::test(start_paused = true)]
async fn a_long_poll_returns_as_soon_as_a_message_is_sent() {
    let queue = standard("jobs");
    let poller = queue.clone();
    let started = Instant::now();
    let poll = tokio::spawn(async move {
        let messages = poller
            .receive(ReceiveRequest::new(10, Duration::from_secs(20)))
            .await
            .unwrap();
        (messages, started.elapsed())
    });
    tokio::time::sleep(3 * SECOND).await;
    queue.send(OutgoingMessage::new("now")).unwrap();
    let (messages, waited) = poll.await.unwrap();
    assert_eq!(bodies(&messages), ["now"]);
    assert_eq!(waited, 3 * SECOND);
    assert_eq!(queue.lock().waiting_receivers, 0);
}

#[tokio::test(start_paused = true)]
async fn a_burst_wakes_as_many_long_polls_as_it_feeds() {
    let queue = standard("jobs");
    let started = Instant::now();
    let polls: Vec<_> = (0..4)
        .map(|_| {
            let poller = queue.clone();
            tokio::spawn(async move {
                let request = ReceiveRequest::new(1, Duration::from_secs(20));
                let messages = poller.receive(request).await.unwrap();
                (messages.len(), started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(SECOND).await;
    assert_eq!(queue.lock().waiting_receivers, 4);
    let batch = (0..3)
        .map(|i| OutgoingMessage::new(format!("{i}")))
        .collect();
    queue.send_batch(batch).unwrap();
    let mut results = Vec::new();
    for poll in polls {
        results.push(poll.await.unwrap());
    }
    results.sort();
    assert_eq!(
        results[0],
        (0, Duration::from_secs(20)),
        "the fourth waits out its wait"
    );
    assert_eq!(
        results[1..],
        [(1, SECOND); 3],
        "each message wakes a poll at once"
    );
}

#[tokio::test(start_paused = true)]
async fn a_long_poll_returns_when_a_visibility_timeout_or_delay_ends() {
    let queue =
        MemoryQueue::new(QueueConfig::standard("jobs").visibility_timeout(5 * SECOND)).unwrap();
    queue.send(OutgoingMessage::new("m")).unwrap();
    receive(&queue, 1).await;
    let started = Instant::now();
    let again = queue
        .receive(ReceiveRequest::new(10, Duration::from_secs(20)))
        .await
        .unwrap();
    assert_eq!(
        (again[0].metadata.receive_count, started.elapsed()),
        (2, 5 * SECOND)
    );
    queue.delete_batch(&handles(&again)).await.unwrap();

    queue
        .send(OutgoingMessage::new("later").delay(7 * SECOND))
        .unwrap();
    let started = Instant::now();
    let delayed = queue
        .receive(ReceiveRequest::new(1, Duration::from_secs(20)))
        .await
        .unwrap();
    assert_eq!(
        (bodies(&delayed), started.elapsed()),
        (vec!["later"], 7 * SECOND)
    );
}

#[tokio::test(start_paused = true)]
async fn a_long_poll_sees_a_shortened_visibility_timeout() {
    let queue = standard("jobs");
    queue.send(OutgoingMessage::new("m")).unwrap();
    let handle = receive(&queue, 1).await.remove(0).metadata.receipt_handle;
    let poller = queue.clone();
    let started = Instant::now();
    let poll = tokio::spawn(async move {
        let messages = poller
            .receive(ReceiveRequest::new(1, Duration::from_secs(20)))
            .await
            .unwrap();
        (messages.len(), started.elapsed())
    });
    tokio::time::sleep(SECOND).await;
    queue
        .change_visibility_batch(&[change(&handle, 2 * SECOND)])
        .await
        .unwrap();
    assert_eq!(poll.await.unwrap(), (1, 3 * SECOND));
}

#[tokio::test(start_paused = true)]
async fn a_fifo_long_poll_returns_when_a_delete_unlocks_the_group() {
    let queue =
        MemoryQueue::new(QueueConfig::fifo("jobs.fifo").content_based_deduplication(true)).unwrap();
    queue
        .send_batch(vec![
            OutgoingMessage::new("1").group_id("g"),
            OutgoingMessage::new("2").group_id("g"),
        ])
        .unwrap();
    let first = receive(&queue, 1).await;
    let poller = queue.clone();
    let poll = tokio::spawn(async move {
        poller
            .receive(ReceiveRequest::new(10, Duration::from_secs(20)))
            .await
            .unwrap()
    });
    tokio::time::sleep(SECOND).await;
    queue.delete_batch(&handles(&first)).await.unwrap();
    assert_eq!(bodies(&poll.await.unwrap()), ["2"]);
}

#[tokio::test(start_paused = true)]
async fn a_long_poll_ends_empty_after_its_wait_and_a_zero_wait_returns_at_once() {
    let queue = standard("jobs");
    let started = Instant::now();
    assert!(receive(&queue, 10).await.is_empty());
    assert_eq!(started.elapsed(), Duration::ZERO);
    let waited = queue
        .receive(ReceiveRequest::new(10, Duration::from_secs(20)))
        .await
        .unwrap();
    assert!(waited.is_empty());
    assert_eq!(started.elapsed(), Duration::from_secs(20));
    assert_eq!(queue.lock().waiting_receivers, 0);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_long_poll_stops_counting_as_waiting() {
    let queue = standard("jobs");
    let poll = queue.receive(ReceiveRequest::new(10, Duration::from_secs(20)));
    assert!(tokio::time::timeout(SECOND, poll).await.is_err());
    assert_eq!(queue.lock().waiting_receivers, 0);
}

#[tokio::test(start_paused = true)]
async fn counts_are_exact_through_every_phase() {
    let queue =
        MemoryQueue::new(QueueConfig::standard("jobs").visibility_timeout(10 * SECOND)).unwrap();
    for i in 0..5 {
        queue.send(OutgoingMessage::new(format!("{i}"))).unwrap();
    }
    queue
        .send(OutgoingMessage::new("d").delay(20 * SECOND))
        .unwrap();
    assert_eq!(counts(&queue), (5, 0, 1));
    let received = receive(&queue, 3).await;
    assert_eq!(counts(&queue), (2, 3, 1));
    queue.delete_batch(&handles(&received[..1])).await.unwrap();
    assert_eq!(counts(&queue), (2, 2, 1));
    advance(10 * SECOND).await;
    assert_eq!(counts(&queue), (4, 0, 1));
    advance(10 * SECOND).await;
    assert_eq!(counts(&queue), (5, 0, 0));
    assert_eq!(queue.len(), 5);
    let attributes = queue.attributes().await.unwrap();
    assert_eq!(
        (attributes.visibility_timeout, attributes.fifo),
        (10 * SECOND, false)
    );
}

#[tokio::test(start_paused = true)]
async fn messages_carry_their_attributes_and_group() {
    let queue = standard("jobs");
    queue
        .send(
            OutgoingMessage::new("m")
                .group_id("tenant-1")
                .attribute("n", MessageAttribute::number(7))
                .attribute("b", MessageAttribute::binary(vec![1_u8, 2])),
        )
        .unwrap();
    let message = receive(&queue, 1).await.remove(0);
    assert_eq!(message.metadata.group_id.as_deref(), Some("tenant-1"));
    assert_eq!(
        message.metadata.attributes["n"],
        MessageAttribute::number(7)
    );
    assert_eq!(
        message.metadata.attributes["b"],
        MessageAttribute::binary(vec![1_u8, 2])
    );
    assert_eq!(
        (
            message.metadata.sequence_number,
            message.metadata.deduplication_id
        ),
        (None, None)
    );
}

#[tokio::test]
async fn bad_requests_are_errors_naming_the_queue() {
    let queue = standard("jobs");
    let names_queue = |error: Error| match error {
        Error::BatchSize { queue, .. }
        | Error::InvalidMessage { queue, .. }
        | Error::InvalidSetting { queue, .. } => queue == "jobs",
        _ => false,
    };
    let eleven: Vec<String> = (0..11).map(|i| format!("{i}:0")).collect();
    assert!(matches!(
        queue.delete_batch(&[]).await,
        Err(Error::BatchSize { entries: 0, .. })
    ));
    assert!(matches!(
        queue.delete_batch(&eleven).await,
        Err(Error::BatchSize { entries: 11, .. })
    ));
    assert!(matches!(
        queue.change_visibility_batch(&[]).await,
        Err(Error::BatchSize { .. })
    ));
    assert!(matches!(
        queue.send_batch(Vec::new()),
        Err(Error::BatchSize { .. })
    ));
    let too_many = (0..11)
        .map(|i| OutgoingMessage::new(format!("{i}")))
        .collect();
    assert!(names_queue(queue.send_batch(too_many).unwrap_err()));
    let too_big = (0..2)
        .map(|_| OutgoingMessage::new("x".repeat(200 * 1024)))
        .collect();
    assert!(matches!(
        queue.send_batch(too_big),
        Err(Error::InvalidMessage { .. })
    ));
    assert!(names_queue(
        queue.send(OutgoingMessage::new("")).unwrap_err()
    ));

    let mixed = queue
        .send_batch(vec![OutgoingMessage::new("ok"), OutgoingMessage::new("")])
        .unwrap();
    assert!(mixed[0].is_ok() && mixed[1].is_err());
    assert_eq!(queue.len(), 1);

    let bad_receive = ReceiveRequest {
        max_messages: 0,
        ..ReceiveRequest::new(1, Duration::ZERO)
    };
    assert!(names_queue(queue.receive(bad_receive).await.unwrap_err()));
    let long_wait = ReceiveRequest {
        wait: Duration::from_secs(21),
        ..ReceiveRequest::new(1, Duration::ZERO)
    };
    assert!(matches!(
        queue.receive(long_wait).await,
        Err(Error::InvalidSetting {
            setting: "WaitTimeSeconds",
            ..
        })
    ));
    let long_hide = ReceiveRequest {
        visibility_timeout: Some(MAX_VISIBILITY + SECOND),
        ..ReceiveRequest::new(1, Duration::ZERO)
    };
    assert!(matches!(
        queue.receive(long_hide).await,
        Err(Error::InvalidSetting {
            setting: "VisibilityTimeout",
            ..
        })
    ));

    let fifo_queue = fifo("jobs.fifo");
    let error = fifo_queue
        .send(OutgoingMessage::new("m").deduplication_id("d"))
        .unwrap_err();
    assert!(
        error.to_string().contains("jobs.fifo") && error.to_string().contains("MessageGroupId")
    );
    let error = MemoryQueue::new(QueueConfig::fifo("jobs")).unwrap_err();
    assert!(error.to_string().contains("`jobs`") && error.to_string().contains("QueueName"));
}

#[tokio::test(start_paused = true)]
async fn storage_stays_flat_over_many_messages() {
    let queue = standard("jobs");
    for round in 0..5_000 {
        let batch = (0..10)
            .map(|i| OutgoingMessage::new(format!("{round}-{i}")))
            .collect();
        queue.send_batch(batch).unwrap();
        let received = receive(&queue, 10).await;
        assert!(queue
            .delete_batch(&handles(&received))
            .await
            .unwrap()
            .all_succeeded());
    }
    let (slots, deadlines, _) = queue.lock().footprint();
    assert!(slots <= 10, "slots are reused: {slots}");
    assert!(
        deadlines <= 1024 + 10,
        "stale deadlines are compacted: {deadlines}"
    );
    assert!(queue.is_empty());
}

#[tokio::test(start_paused = true)]
async fn fifo_groups_are_forgotten_once_empty() {
    let queue =
        MemoryQueue::new(QueueConfig::fifo("jobs.fifo").content_based_deduplication(true)).unwrap();
    for i in 0..100 {
        queue
            .send(OutgoingMessage::new(format!("{i}")).group_id(format!("g{i}")))
            .unwrap();
    }
    while !queue.is_empty() {
        let received = receive(&queue, 10).await;
        queue.delete_batch(&handles(&received)).await.unwrap();
    }
    assert_eq!(queue.lock().footprint().2, 0);
}
