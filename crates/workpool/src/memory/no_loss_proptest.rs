//! Property: whatever sequence of sends, receives, deletes (with current, stale or bogus handles),
//! visibility changes and passing time, no message is lost or duplicated. Every sent message ends
//! deleted or in the dead-letter queue, exactly once, and none is delivered while still in flight.

use crate::OutgoingMessage;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use proptest::prelude::*;
use tokio::time::Instant;

use super::{MemoryQueue, QueueConfig};
use crate::{ReceiveRequest, Source, VisibilityChange};

const MAX_RECEIVE_COUNT: u32 = 3;

#[derive(Debug, Clone)]
enum Operation {
    Send { group: u8, delay_secs: u64 },
    Receive { max: usize, visibility_secs: u64 },
    DeleteLatest { pick: usize },
    DeleteOlder { pick: usize },
    DeleteBogus,
    ChangeVisibility { pick: usize, secs: u64 },
    Advance { secs: u64 },
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        3 => (0..3_u8, 0..3_u64).prop_map(|(group, delay_secs)| Operation::Send { group, delay_secs }),
        3 => (1..=10_usize, 0..5_u64)
            .prop_map(|(max, visibility_secs)| Operation::Receive { max, visibility_secs }),
        2 => any::<usize>().prop_map(|pick| Operation::DeleteLatest { pick }),
        1 => any::<usize>().prop_map(|pick| Operation::DeleteOlder { pick }),
        1 => Just(Operation::DeleteBogus),
        1 => (any::<usize>(), 0..5_u64).prop_map(|(pick, secs)| Operation::ChangeVisibility { pick, secs }),
        2 => (0..6_u64).prop_map(|secs| Operation::Advance { secs }),
    ]
}

/// What the test knows from the queue's answers.
#[derive(Default)]
struct Model {
    sent: Vec<String>,
    received: Vec<String>,
    latest_handle: HashMap<String, String>,
    older_handles: Vec<String>,
    hidden_until: HashMap<String, Instant>,
    deleted_with_latest: HashSet<String>,
}

impl Model {
    fn pick(&self, pick: usize) -> Option<(String, String)> {
        let id = self.received.get(pick % self.received.len().max(1))?;
        Some((id.clone(), self.latest_handle[id].clone()))
    }
}

async fn run(fifo: bool, operations: Vec<Operation>) -> Result<(), TestCaseError> {
    let (dead_letters, queue) = if fifo {
        let dead_letters = MemoryQueue::new(QueueConfig::fifo("dlq.fifo")).unwrap();
        let config = QueueConfig::fifo("jobs.fifo").visibility_timeout(Duration::from_secs(2));
        (
            dead_letters.clone(),
            MemoryQueue::new(config.redrive(dead_letters, MAX_RECEIVE_COUNT)).unwrap(),
        )
    } else {
        let dead_letters = MemoryQueue::new(QueueConfig::standard("dlq")).unwrap();
        let config = QueueConfig::standard("jobs").visibility_timeout(Duration::from_secs(2));
        (
            dead_letters.clone(),
            MemoryQueue::new(config.redrive(dead_letters, MAX_RECEIVE_COUNT)).unwrap(),
        )
    };
    let mut model = Model::default();
    for (number, operation) in operations.into_iter().enumerate() {
        match operation {
            Operation::Send { group, delay_secs } => {
                let mut request =
                    OutgoingMessage::new(format!("body {number}")).group_id(format!("g{group}"));
                if fifo {
                    request = request.deduplication_id(format!("d{number}"));
                } else {
                    request = request.delay(Duration::from_secs(delay_secs));
                }
                model.sent.push(queue.send(request).unwrap().message_id);
            }
            Operation::Receive {
                max,
                visibility_secs,
            } => {
                let visibility = Duration::from_secs(visibility_secs);
                let request =
                    ReceiveRequest::new(max, Duration::ZERO).with_visibility_timeout(visibility);
                let messages = queue.receive(request).await.unwrap();
                let now = Instant::now();
                let mut in_this_receive = HashSet::new();
                for message in messages {
                    let id = message.metadata.message_id;
                    prop_assert!(
                        in_this_receive.insert(id.clone()),
                        "{id} twice in one receive"
                    );
                    if let Some(until) = model.hidden_until.get(&id) {
                        prop_assert!(*until <= now, "{id} delivered while still in flight");
                    }
                    prop_assert!(
                        !model.deleted_with_latest.contains(&id),
                        "{id} delivered after delete"
                    );
                    model.hidden_until.insert(id.clone(), now + visibility);
                    if let Some(old) = model
                        .latest_handle
                        .insert(id.clone(), message.metadata.receipt_handle)
                    {
                        model.older_handles.push(old);
                    } else {
                        model.received.push(id);
                    }
                }
            }
            Operation::DeleteLatest { pick } => {
                if let Some((id, handle)) = model.pick(pick) {
                    let outcome = queue.delete_batch(&[handle]).await.unwrap();
                    prop_assert!(outcome.all_succeeded());
                    model.deleted_with_latest.insert(id);
                }
            }
            Operation::DeleteOlder { pick } => {
                if !model.older_handles.is_empty() {
                    let handle = model.older_handles[pick % model.older_handles.len()].clone();
                    prop_assert!(queue.delete_batch(&[handle]).await.unwrap().all_succeeded());
                }
            }
            Operation::DeleteBogus => {
                let outcome = queue.delete_batch(&["1000000:0".to_owned()]).await.unwrap();
                prop_assert_eq!(outcome.failed.len(), 1);
            }
            Operation::ChangeVisibility { pick, secs } => {
                if let Some((id, handle)) = model.pick(pick) {
                    let timeout = Duration::from_secs(secs);
                    let change = VisibilityChange {
                        receipt_handle: handle,
                        timeout,
                    };
                    let outcome = queue.change_visibility_batch(&[change]).await.unwrap();
                    if outcome.all_succeeded() {
                        prop_assert!(!model.deleted_with_latest.contains(&id));
                        model.hidden_until.insert(id, Instant::now() + timeout);
                    } else {
                        prop_assert_eq!(outcome.failed[0].code.as_str(), "MessageNotInflight");
                    }
                }
            }
            Operation::Advance { secs } => tokio::time::advance(Duration::from_secs(secs)).await,
        }
        for q in [&queue, &dead_letters] {
            let attributes = q.attributes_now();
            let total = attributes.visible + attributes.not_visible + attributes.delayed;
            prop_assert_eq!(total as usize, q.len());
        }
    }

    tokio::time::advance(Duration::from_secs(13 * 3600)).await;
    let left_before_drain = queue.len() + dead_letters.len();
    let drained = drain(&queue).await?;
    let dead = drain(&dead_letters).await?;
    prop_assert_eq!(
        drained.len() + dead.len(),
        left_before_drain,
        "counts matched the messages"
    );
    prop_assert!(queue.is_empty() && dead_letters.is_empty());

    let drained: HashSet<String> = drained.into_iter().collect();
    let dead: HashSet<String> = dead.into_iter().collect();
    prop_assert!(
        drained.is_disjoint(&dead),
        "a message both on the queue and in the DLQ"
    );
    prop_assert!(
        drained.is_disjoint(&model.deleted_with_latest),
        "a deleted message came back"
    );
    for id in &model.sent {
        prop_assert!(
            drained.contains(id) || dead.contains(id) || model.deleted_with_latest.contains(id),
            "{} was lost",
            id
        );
    }
    let sent: HashSet<&String> = model.sent.iter().collect();
    prop_assert_eq!(sent.len(), model.sent.len(), "message ids are unique");
    prop_assert!(
        drained.iter().chain(&dead).all(|id| sent.contains(id)),
        "a message nobody sent"
    );
    Ok(())
}

/// Receives and deletes until the queue is empty; returns the ids, duplicates kept.
async fn drain(queue: &MemoryQueue) -> Result<Vec<String>, TestCaseError> {
    let mut ids = Vec::new();
    loop {
        let messages = queue
            .receive(ReceiveRequest::new(10, Duration::ZERO))
            .await
            .unwrap();
        if messages.is_empty() {
            break;
        }
        let handles: Vec<String> = messages
            .iter()
            .map(|m| m.metadata.receipt_handle.clone())
            .collect();
        prop_assert!(queue.delete_batch(&handles).await.unwrap().all_succeeded());
        ids.extend(messages.into_iter().map(|m| m.metadata.message_id));
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    prop_assert_eq!(unique.len(), ids.len(), "a message drained twice");
    Ok(ids)
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_standard_queue_never_loses_or_duplicates(operations in prop::collection::vec(operation(), 1..80)) {
        paused_runtime().block_on(run(false, operations))?;
    }

    #[test]
    fn a_fifo_queue_never_loses_or_duplicates(operations in prop::collection::vec(operation(), 1..80)) {
        paused_runtime().block_on(run(true, operations))?;
    }
}
