//! Reliability, case 4: bad input on the emulator. Bodies that are not JSON, JSON of the wrong shape,
//! an empty body, 256 KiB bodies, invalid UTF-8 in a binary attribute read as text and SNS envelopes
//! with a broken inner message, interleaved with good messages: each bad one is a clear, logged
//! handler failure (the log line says why) that ends in the dead-letter queue; every good one is
//! processed; nothing panics, nothing is lost. What SQS refuses at send (an empty body, one byte over
//! 256 KiB) the producer refuses with an error naming the problem.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tower::service_fn;
use workpool::memory::{MemoryQueue, QueueConfig};
use workpool::{AttributeValue, BoxError, Consumer, FailurePolicy, Json, Message, Sns, Summary};
use workpool_sqs::{
    Error, OutgoingMessage, Producer, SqsSource, DEFAULT_MAX_MESSAGE_BYTES as MAX_MESSAGE_BYTES,
};
use workpool_tests::reliability::{Ledger, LogCapture, QueueProbe};
use workpool_tests::{aws_config, create_queue, unique_name, QueueSpec};

/// Receives before SQS moves a failing message to the dead-letter queue.
const MAX_RECEIVES: u32 = 2;

/// The attribute a job handler reads as text.
const TRACE_ATTRIBUTE: &str = "trace";

/// What the handlers expect in a body.
#[derive(Debug, Deserialize)]
struct Job {
    id: String,
    #[allow(dead_code)] // decoded to check the shape, not used
    size: u32,
}

/// One message to send and what must become of it.
#[derive(Debug, Clone)]
struct Case {
    message: OutgoingMessage,
    /// `None`: good, must be processed. `Some(why)`: must fail on every delivery with a logged
    /// reason containing `why`, and end in the dead-letter queue.
    failure: Option<&'static str>,
}

impl Case {
    fn good(body: impl Into<String>) -> Self {
        Self {
            message: OutgoingMessage::new(body),
            failure: None,
        }
    }

    fn bad(body: impl Into<String>, why: &'static str) -> Self {
        Self {
            message: OutgoingMessage::new(body),
            failure: Some(why),
        }
    }

    fn with_trace(mut self, trace: &'static [u8]) -> Self {
        self.message = self.message.attribute(
            TRACE_ATTRIBUTE,
            workpool::MessageAttribute::binary(trace.to_vec()),
        );
        self
    }
}

fn job(id: &str) -> String {
    format!(r#"{{"id":"{id}","size":1}}"#)
}

/// A good job padded with an unknown field to exactly `bytes` bytes.
fn padded_job(id: &str, bytes: usize) -> String {
    let empty = format!(r#"{{"id":"{id}","size":1,"padding":""}}"#);
    let padding = "p".repeat(bytes - empty.len());
    let body = format!(r#"{{"id":"{id}","size":1,"padding":"{padding}"}}"#);
    assert_eq!(body.len(), bytes);
    body
}

/// An SNS notification envelope around `inner` (a JSON value: usually a string).
fn envelope(sns_id: &str, inner: serde_json::Value) -> String {
    serde_json::json!({
        "Type": "Notification",
        "MessageId": sns_id,
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:jobs",
        "Message": inner,
    })
    .to_string()
}

/// Good messages interleaved with bad ones: a good one before each bad one, and one at the end.
fn interleave(prefix: &str, bad: Vec<Case>, good: impl Fn(&str) -> String) -> Vec<Case> {
    let mut cases = Vec::new();
    for (index, case) in bad.into_iter().enumerate() {
        cases.push(Case::good(good(&format!("{prefix}-good-{index}"))));
        cases.push(case);
    }
    cases.push(Case::good(good(&format!("{prefix}-good-last"))));
    cases
}

/// The cases of the queue whose handler takes `Json<Job>` and reads the `trace` attribute as text.
fn json_cases() -> Vec<Case> {
    let bad = vec![
        Case::bad(
            "hello, this is not JSON",
            "cannot decode the body as JSON: expected value at line 1 column 1",
        ),
        Case::bad(
            r#"{"id": "cut-off"#,
            "cannot decode the body as JSON: EOF while parsing",
        ),
        Case::bad(r#"<job id="xml"/>"#, "cannot decode the body as JSON"),
        Case::bad(
            r#"{"id":"shape-missing-size"}"#,
            "cannot decode the body as JSON: missing field `size`",
        ),
        Case::bad(
            r#"{"id":"shape-wrong-type","size":"big"}"#,
            r#"invalid type: string "big", expected u32"#,
        ),
        Case::bad("42", "invalid type: integer `42`, expected struct Job"),
        Case::bad(
            "x".repeat(MAX_MESSAGE_BYTES),
            "cannot decode the body as JSON: expected value at line 1 column 1",
        ),
        Case::bad(job("trace-not-utf8"), "attribute `trace` is not UTF-8 text")
            .with_trace(b"\xff\xfe bad"),
    ];
    let mut cases = interleave("json", bad, job);
    cases.push(Case::good(padded_job("json-good-256k", MAX_MESSAGE_BYTES)));
    cases.push(Case::good(job("json-good-trace")).with_trace(b"utf-8 text"));
    cases
}

/// The cases of the queue whose handler takes `Sns<Json<Job>>`.
fn sns_cases() -> Vec<Case> {
    let bad =
        vec![
        Case::bad(
            envelope("sns-inner-not-json", "not json".into()),
            "its inner Message: cannot decode the body as JSON: expected ident",
        ),
        Case::bad(
            envelope("sns-inner-shape", r#"{"id":"sns-inner-shape"}"#.into()),
            "its inner Message: cannot decode the body as JSON: missing field `size`",
        ),
        Case::bad(
            envelope("sns-inner-empty", "".into()),
            "its inner Message: cannot decode the body as JSON: the body is empty",
        ),
        Case::bad(
            envelope("sns-inner-object", serde_json::json!({"id": "x", "size": 1})),
            "cannot decode the body as an SNS notification: invalid type: map, expected a string",
        ),
        Case::bad(
            r#"{"Type":"Notification","MessageId":"sns-no-message"}"#,
            "cannot decode the body as an SNS notification: missing field `Message`",
        ),
        Case::bad(
            r#"{"Type":"SubscriptionConfirmation","MessageId":"sns-confirm","Message":"confirm"}"#,
            r#"the envelope's Type is "SubscriptionConfirmation", not "Notification""#,
        ),
        Case::bad(
            job("sns-not-an-envelope"),
            "cannot decode the body as an SNS notification: missing field `Message`",
        ),
        Case::bad(
            r#"{"Type":"Notification","Message":"{\"id"#,
            "cannot decode the body as an SNS notification: EOF while parsing",
        ),
    ];
    interleave("sns", bad, |id| {
        envelope(&format!("envelope-{id}"), job(id).into())
    })
}

/// Messages of one queue as sent: body → (message id, expected failure).
type Sent = BTreeMap<String, (String, Option<&'static str>)>;

async fn send_cases(producer: &Producer, cases: &[Case]) -> Sent {
    let report = producer
        .send_all(cases.iter().map(|case| case.message.clone()))
        .await
        .expect("SendMessageBatch");
    assert!(report.all_sent(), "{:?}", report.failed);
    report
        .sent
        .iter()
        .map(|sent| {
            let case = &cases[sent.index];
            (
                case.message.body().to_owned(),
                (sent.message_id.clone(), case.failure),
            )
        })
        .collect()
}

/// The text of an attribute, failing with the reason when a binary one is not UTF-8.
fn attribute_text<T>(message: &Message<T>, name: &str) -> Result<Option<String>, BoxError> {
    match message.attribute(name).map(|attribute| &attribute.value) {
        None => Ok(None),
        Some(AttributeValue::Text(text)) => Ok(Some(text.clone())),
        Some(AttributeValue::Binary(bytes)) => std::str::from_utf8(bytes)
            .map(|text| Some(text.to_owned()))
            .map_err(|error| format!("attribute `{name}` is not UTF-8 text: {error}").into()),
    }
}

#[tokio::test]
async fn bad_input_fails_clearly_and_ends_in_the_dead_letter_queue_while_good_input_flows() {
    let started = Instant::now();
    let (logs, _guard) = LogCapture::install();
    let config = aws_config().await;
    let client = aws_sdk_sqs::Client::new(&config);
    let dlq = create_queue(&config, &unique_name("rel-bad-dlq"), QueueSpec::standard()).await;
    let spec = QueueSpec::standard().redrive(dlq.arn.clone(), MAX_RECEIVES);
    let json_queue = create_queue(&config, &unique_name("rel-bad-json"), spec.clone()).await;
    let sns_queue = create_queue(&config, &unique_name("rel-bad-sns"), spec).await;
    let json_source = SqsSource::from_queue_url(&config, &json_queue.url).expect("queue URL");
    let sns_source = SqsSource::from_queue_url(&config, &sns_queue.url).expect("queue URL");

    let mut sent = send_cases(&Producer::for_source(&json_source), &json_cases()).await;
    // SQS refuses an empty body (and so does the producer, see below); the emulator takes one
    // through the bare SDK, which is how an empty body can still reach a consumer.
    let empty = client
        .send_message()
        .queue_url(&json_queue.url)
        .message_body("")
        .send()
        .await
        .expect("the emulator accepts an empty body");
    sent.insert(
        String::new(),
        (
            empty.message_id().expect("a message id").to_owned(),
            Some("cannot decode the body as JSON: the body is empty"),
        ),
    );
    let sns_sent = send_cases(&Producer::for_source(&sns_source), &sns_cases()).await;
    let all: Sent = sent
        .iter()
        .chain(&sns_sent)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(all.len(), sent.len() + sns_sent.len(), "bodies are unique");

    // The handlers see job ids; the ledger counts raw bodies.
    let body_of_job: Arc<BTreeMap<String, String>> = Arc::new(
        all.keys()
            .filter_map(|body| {
                let id = serde_json::from_str::<Job>(body)
                    .map(|job| job.id)
                    .or_else(|_| {
                        workpool::FromBody::from_body(body.clone())
                            .map(|sns: Sns<Json<Job>>| sns.message.0.id)
                    })
                    .ok()?;
                Some((id, body.clone()))
            })
            .collect(),
    );
    let ledger = Ledger::new();

    let (job_ledger, job_bodies) = (ledger.clone(), body_of_job.clone());
    let job_handler = service_fn(move |message: Message<Json<Job>>| {
        let (ledger, bodies) = (job_ledger.clone(), job_bodies.clone());
        async move {
            let body = &bodies[&message.body().id];
            ledger.delivered(body);
            attribute_text(&message, TRACE_ATTRIBUTE)?;
            ledger.succeeded(body);
            Ok::<_, BoxError>(())
        }
    });
    let (sns_ledger, sns_bodies) = (ledger.clone(), body_of_job.clone());
    let sns_handler = service_fn(move |message: Message<Sns<Json<Job>>>| {
        let (ledger, bodies) = (sns_ledger.clone(), sns_bodies.clone());
        async move {
            let body = &bodies[&message.body().message.id];
            ledger.delivered(body);
            ledger.succeeded(body);
            Ok::<_, BoxError>(())
        }
    });

    let consumer = |source: SqsSource| {
        Consumer::new(source)
            .concurrency(10)
            .wait_time(Duration::from_secs(1))
            .grace_period(Duration::from_secs(10))
            .failure_policy(FailurePolicy::Exponential {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(1),
            })
    };
    let json_probe = QueueProbe::new(client.clone(), &json_queue.url);
    let sns_probe = QueueProbe::new(client.clone(), &sns_queue.url);
    let dlq_probe = QueueProbe::new(client.clone(), &dlq.url);
    let (json_drained, sns_drained) = (json_probe.clone(), sns_probe.clone());
    let (json_summary, sns_summary) = tokio::join!(
        consumer(json_source)
            .run(job_handler)
            .with_graceful_shutdown(async move {
                json_drained.wait_until_empty(Duration::from_secs(90)).await;
            }),
        consumer(sns_source)
            .run(sns_handler)
            .with_graceful_shutdown(async move {
                sns_drained.wait_until_empty(Duration::from_secs(90)).await;
            }),
    );
    let (json_summary, sns_summary) = (
        json_summary.expect("the JSON consumer runs"),
        sns_summary.expect("the SNS consumer runs"),
    );

    let dead = dlq_probe.drain_bodies(Duration::from_secs(5)).await;
    let bodies: Vec<String> = all.keys().cloned().collect();
    let report = ledger.report(&bodies, &dead);
    let expected_dead: BTreeSet<&String> = all
        .iter()
        .filter(|(_, (_, failure))| failure.is_some())
        .map(|(body, _)| body)
        .collect();
    let failures_logged = logs.lines_with(&["handler failed"]);
    println!(
        "reliability bad input: {} messages ({} bad, {} good, up to {MAX_MESSAGE_BYTES} bytes), \
         {} processed, {} dead-lettered, {failures_logged} failures logged, panics {}, lost {}, \
         duplicates {}, {:.1} s",
        report.sent,
        expected_dead.len(),
        report.sent - expected_dead.len(),
        report.processed,
        report.dead_lettered,
        json_summary.panics + sns_summary.panics,
        report.lost,
        report.duplicates,
        started.elapsed().as_secs_f64()
    );

    assert_eq!(report.lost, 0, "lost: {:?}", report.lost_examples);
    assert_eq!((report.both, report.unknown), (0, 0), "{report:?}");
    assert_eq!(report.duplicates, 0, "{report:?}");
    assert_eq!(
        report.processed,
        all.len() - expected_dead.len(),
        "every good message processed: the consumers never got stuck; {report:?}"
    );
    let dead_set: BTreeSet<&String> = dead.iter().collect();
    assert_eq!(
        dead_set, expected_dead,
        "exactly the bad messages are dead-lettered"
    );
    assert_eq!(dead.len(), expected_dead.len(), "each dead-lettered once");

    // Each bad message failed on each of its deliveries, and the log line says why.
    for (body, (message_id, failure)) in &all {
        let Some(why) = failure else { continue };
        let lines = logs.lines_with(&[message_id.as_str(), "handler failed", why]);
        assert_eq!(
            lines,
            MAX_RECEIVES as usize,
            "message {message_id} (body {:.60}…) should have logged `{why}` on each of its \
             {MAX_RECEIVES} deliveries; the log:\n{}",
            body,
            logs.text()
        );
    }
    let bad_reaching_handlers = ["trace-not-utf8"];
    for id in bad_reaching_handlers {
        assert_eq!(ledger.deliveries_of(&body_of_job[id]), MAX_RECEIVES, "{id}");
    }

    assert!(!logs.text().contains("panicked"), "{}", logs.text());
    check_summary(&json_summary, &sent);
    check_summary(&sns_summary, &sns_sent);
    assert_eq!(json_probe.counts().await, (0, 0, 0));
    assert_eq!(sns_probe.counts().await, (0, 0, 0));
    assert_eq!(dlq_probe.counts().await, (0, 0, 0));
}

/// The consumer's own counts: no panic, each good message succeeded once, each bad one failed on
/// each delivery.
fn check_summary(summary: &Summary, sent: &Sent) {
    let bad = sent
        .values()
        .filter(|(_, failure)| failure.is_some())
        .count() as u64;
    let good = sent.len() as u64 - bad;
    assert_eq!(summary.panics, 0, "{summary:?}");
    assert_eq!(summary.succeeded, good, "{summary:?}");
    assert_eq!(summary.deleted, good, "{summary:?}");
    assert_eq!(summary.failed, bad * u64::from(MAX_RECEIVES), "{summary:?}");
    assert_eq!(
        summary.received,
        good + bad * u64::from(MAX_RECEIVES),
        "{summary:?}"
    );
}

#[tokio::test]
async fn what_sqs_refuses_at_send_is_refused_with_an_error_naming_the_problem() {
    let config = aws_config().await;
    let queue = create_queue(&config, &unique_name("rel-bad-send"), QueueSpec::standard()).await;
    let source = SqsSource::from_queue_url(&config, &queue.url).expect("queue URL");
    let producer = Producer::for_source(&source);

    let error = producer.send(OutgoingMessage::new("")).await.unwrap_err();
    assert!(matches!(error, Error::EmptyBody { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("empty body") && text.contains(&queue.url),
        "{text}"
    );

    let error = producer
        .send(OutgoingMessage::new("x".repeat(MAX_MESSAGE_BYTES + 1)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::MessageTooLarge {
                size: 262_145,
                limit: 262_144,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("262145 bytes"), "{error}");

    // The limit counts the attributes too: at the limit with one, then one byte over.
    let attribute = workpool::MessageAttribute::string("abc");
    let attribute_bytes = "k".len() + "String".len() + "abc".len();
    let at_limit = OutgoingMessage::new("a".repeat(MAX_MESSAGE_BYTES - attribute_bytes))
        .attribute("k", attribute.clone());
    let over = OutgoingMessage::new("a".repeat(MAX_MESSAGE_BYTES - attribute_bytes + 1))
        .attribute("k", attribute);
    assert_eq!(at_limit.size(), MAX_MESSAGE_BYTES);
    let error = producer.send(over.clone()).await.unwrap_err();
    assert!(
        matches!(error, Error::MessageTooLarge { size: 262_145, .. }),
        "{error:?}"
    );

    let report = producer
        .send_all([
            OutgoingMessage::new("first"),
            OutgoingMessage::new(""),
            over,
            OutgoingMessage::new("f".repeat(MAX_MESSAGE_BYTES)),
            at_limit,
        ])
        .await
        .expect("SendMessageBatch");
    let refused: Vec<(usize, &str)> = report
        .failed
        .iter()
        .map(|failure| (failure.index, failure.code.as_str()))
        .collect();
    assert_eq!(
        refused,
        [(1, "EmptyBody"), (2, "MessageTooLong")],
        "{report:?}"
    );
    assert!(report.failed[0].message.contains("empty"), "{report:?}");
    assert!(report.failed.iter().all(|failure| failure.sender_fault));
    let sent: Vec<usize> = report.sent.iter().map(|sent| sent.index).collect();
    assert_eq!(sent, [0, 3, 4]);

    // What was sent arrives whole, the 256 KiB bodies included.
    let probe = QueueProbe::new(aws_sdk_sqs::Client::new(&config), &queue.url);
    let mut lengths: Vec<usize> = probe
        .drain_bodies(Duration::from_secs(5))
        .await
        .iter()
        .map(String::len)
        .collect();
    lengths.sort_unstable();
    assert_eq!(
        lengths,
        [5, MAX_MESSAGE_BYTES - attribute_bytes, MAX_MESSAGE_BYTES]
    );

    // The in-process queue refuses an empty body the same way.
    let memory = MemoryQueue::new(QueueConfig::standard("jobs")).expect("a memory queue");
    let error = memory.send(OutgoingMessage::new("")).unwrap_err();
    assert!(
        matches!(error, workpool::Error::InvalidMessage { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("the body is empty"), "{error}");
}
