//! The batched `Producer` end to end: the real AWS SDK against the emulator (moto).

use std::collections::BTreeSet;
use std::time::Duration;

use workpool::{MessageAttribute, RawMessage, ReceiveRequest, Source};
use workpool_sqs::{Error, OutgoingMessage, Producer, SqsSource, DEFAULT_MAX_MESSAGE_BYTES};
use workpool_tests::{aws_config, create_queue, unique_name, QueueSpec};

async fn queue(prefix: &str, spec: QueueSpec) -> (SqsSource, Producer) {
    let config = aws_config().await;
    let created = create_queue(&config, &unique_name(prefix), spec).await;
    let source = SqsSource::from_queue_url(&config, &created.url).expect("queue URL");
    let producer = Producer::for_source(&source);
    (source, producer)
}

/// Receives until `count` messages came, deleting none; panics after 10 s.
async fn receive_all(source: &SqsSource, count: usize) -> Vec<RawMessage> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut received = Vec::new();
    while received.len() < count && std::time::Instant::now() < deadline {
        let request = ReceiveRequest::new(10, Duration::from_secs(1));
        received.extend(source.receive(request).await.expect("receive"));
    }
    assert_eq!(received.len(), count, "{received:?}");
    received
}

#[tokio::test]
async fn twenty_five_messages_go_out_in_three_batch_calls() {
    let (source, producer) = queue("producer-25", QueueSpec::standard()).await;
    let messages = (0..25).map(|n| OutgoingMessage::new(format!("message {n}")));

    let report = producer.send_all(messages).await.expect("send_all");

    assert!(report.all_sent(), "{report:?}");
    assert_eq!(report.batch_calls, 3);
    let indexes: Vec<usize> = report.sent.iter().map(|sent| sent.index).collect();
    assert_eq!(indexes, (0..25).collect::<Vec<_>>());
    let ids: BTreeSet<&str> = report
        .sent
        .iter()
        .map(|sent| sent.message_id.as_str())
        .collect();
    assert_eq!(ids.len(), 25, "every message has its own id");

    let bodies: BTreeSet<String> = receive_all(&source, 25)
        .await
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, (0..25).map(|n| format!("message {n}")).collect());
}

#[tokio::test]
async fn an_oversize_message_is_rejected_up_front_and_the_others_are_sent() {
    let (source, producer) = queue("producer-oversize", QueueSpec::standard()).await;
    let oversize = "x".repeat(DEFAULT_MAX_MESSAGE_BYTES + 1);
    let messages = vec![
        OutgoingMessage::new("small 0"),
        OutgoingMessage::new(oversize.clone()),
        OutgoingMessage::new("small 2"),
    ];

    let report = producer.send_all(messages).await.expect("send_all");

    assert_eq!(report.failed.len(), 1, "{report:?}");
    let failure = &report.failed[0];
    assert_eq!(
        (failure.index, failure.code.as_str(), failure.sender_fault),
        (1, "MessageTooLong", true)
    );
    assert!(
        failure.message.contains("262145 bytes"),
        "{}",
        failure.message
    );
    assert_eq!(
        report
            .sent
            .iter()
            .map(|sent| sent.index)
            .collect::<Vec<_>>(),
        [0, 2]
    );
    assert_eq!(report.batch_calls, 1);
    assert_eq!(receive_all(&source, 2).await.len(), 2);

    let error = producer
        .send(OutgoingMessage::new(oversize))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::MessageTooLarge { size: 262_145, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(source.queue_url()), "{error}");
}

#[tokio::test]
async fn batches_stay_within_the_total_size_limit() {
    let (source, producer) = queue("producer-batch-size", QueueSpec::standard()).await;
    let hundred_kib = "y".repeat(100 * 1024);
    let messages = (0..3).map(|_| OutgoingMessage::new(hundred_kib.clone()));

    let report = producer.send_all(messages).await.expect("send_all");

    assert!(report.all_sent(), "{report:?}");
    assert_eq!(
        report.batch_calls, 2,
        "two 100 KiB messages fit in 256 KiB, three do not"
    );
    assert_eq!(receive_all(&source, 3).await.len(), 3);
}

#[tokio::test]
async fn fifo_messages_keep_their_order_group_and_deduplication_ids() {
    let (source, producer) = queue("producer-fifo", QueueSpec::fifo()).await;
    let messages = (0..12).map(|n| {
        OutgoingMessage::new(format!("step {n}"))
            .group_id("job-7")
            .deduplication_id(format!("step-{n}"))
    });

    let report = producer.send_all(messages).await.expect("send_all");

    assert!(report.all_sent(), "{report:?}");
    assert_eq!(report.batch_calls, 2);
    assert!(
        report
            .sent
            .iter()
            .all(|sent| sent.sequence_number.is_some()),
        "{report:?}"
    );

    let mut received = Vec::new();
    while received.len() < 12 {
        let batch = source
            .receive(ReceiveRequest::new(10, Duration::from_secs(1)))
            .await
            .expect("receive");
        assert!(
            !batch.is_empty(),
            "the FIFO queue stopped after {received:?}"
        );
        let handles: Vec<String> = batch
            .iter()
            .map(|m| m.metadata.receipt_handle.clone())
            .collect();
        assert!(source
            .delete_batch(&handles)
            .await
            .expect("delete")
            .all_succeeded());
        received.extend(batch);
    }
    let bodies: Vec<&str> = received.iter().map(|m| m.body.as_str()).collect();
    let expected: Vec<String> = (0..12).map(|n| format!("step {n}")).collect();
    assert_eq!(
        bodies,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(received
        .iter()
        .all(|m| m.metadata.group_id.as_deref() == Some("job-7")));
    assert_eq!(
        received[3].metadata.deduplication_id.as_deref(),
        Some("step-3")
    );
}

#[tokio::test]
async fn entries_the_queue_refuses_are_reported_by_input_index() {
    let (source, producer) = queue("producer-refused", QueueSpec::standard()).await;
    let messages = vec![
        OutgoingMessage::new("fine 0"),
        OutgoingMessage::new("fine 1"),
        OutgoingMessage::new("too late").delay(Duration::from_secs(1_000)),
    ];

    let report = producer.send_all(messages).await.expect("send_all");

    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].index, 2);
    assert_eq!(report.failed[0].code, "InvalidParameterValue");
    assert!(
        report.failed[0].message.contains("DelaySeconds"),
        "{:?}",
        report.failed[0]
    );
    assert_eq!(receive_all(&source, 2).await.len(), 2);
}

#[tokio::test]
async fn a_delayed_message_with_attributes_arrives_after_its_delay() {
    let (source, producer) = queue("producer-delay", QueueSpec::standard()).await;
    let message = OutgoingMessage::new("later")
        .delay(Duration::from_secs(2))
        .attribute("kind", MessageAttribute::string("encode"))
        .attribute("height", MessageAttribute::number(720));

    let sent = producer.send(message).await.expect("send");

    let early = source
        .receive(ReceiveRequest::new(10, Duration::ZERO))
        .await
        .expect("receive");
    assert!(early.is_empty(), "delivered before its delay: {early:?}");
    let received = receive_all(&source, 1).await.remove(0);
    assert_eq!(received.metadata.message_id, sent.message_id);
    assert_eq!(
        received.metadata.attributes["kind"],
        MessageAttribute::string("encode")
    );
    assert_eq!(
        received.metadata.attributes["height"],
        MessageAttribute::number(720)
    );
}
