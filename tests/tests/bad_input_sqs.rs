//! Bad input gives an error that names the queue or the endpoint and says what to do — never a
//! panic. These talk to the emulator (moto) or to a closed loopback port through the real AWS SDK.

use std::time::Duration;

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::SharedCredentialsProvider;
use workpool::{ReceiveRequest, Source};
use workpool_sqs::{aws_config_for, Error, OutgoingMessage, Producer, SqsSource};
use workpool_tests::{aws_config, create_queue, endpoint, unique_name, QueueSpec};

/// A loopback port nothing listens on: bound, then released.
fn closed_port_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_queue_url_that_does_not_parse_is_an_error_naming_it() {
    let config = aws_config().await;
    for url in [
        "jobs",
        "ftp://host/1/jobs",
        "https://sqs.us-east-1.amazonaws.com/1/bad name!",
    ] {
        let error = SqsSource::from_queue_url(&config, url).unwrap_err();
        assert!(matches!(error, Error::InvalidQueueUrl { .. }), "{error:?}");
        let text = error.to_string();
        assert!(
            text.contains(url) && text.contains("expected a URL like"),
            "{text}"
        );
        let error = Producer::from_queue_url(&config, url).unwrap_err();
        assert!(matches!(error, Error::InvalidQueueUrl { .. }), "{error:?}");
    }
}

#[tokio::test]
async fn a_queue_that_does_not_exist_is_an_error_naming_the_queue_and_endpoint() {
    let config = aws_config().await;
    let endpoint = endpoint();
    let url = format!("{endpoint}/123456789012/{}", unique_name("missing"));
    let source = SqsSource::from_queue_url(&config, &url).expect("the URL parses");

    let error = source
        .receive(ReceiveRequest::new(1, Duration::ZERO))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::QueueDoesNotExist { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains(&url) && text.contains(&endpoint), "{text}");

    let error = source.attributes().await.unwrap_err();
    assert!(
        matches!(error, Error::QueueDoesNotExist { .. }),
        "{error:?}"
    );
    let error = Producer::for_source(&source)
        .send(OutgoingMessage::new("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::QueueDoesNotExist { .. }),
        "{error:?}"
    );

    let name = unique_name("missing");
    let error = SqsSource::from_queue_name(&config, &name)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::QueueDoesNotExist { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(&name), "{error}");
}

#[tokio::test]
async fn a_queue_name_sqs_would_refuse_is_an_error_before_any_request() {
    let config = aws_config().await;
    let error = SqsSource::from_queue_name(&config, "no spaces allowed")
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidQueueName { .. }), "{error:?}");
    assert!(error.to_string().contains("no spaces allowed"), "{error}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_an_error_naming_it() {
    let closed = closed_port_endpoint();
    let config = aws_config()
        .await
        .into_builder()
        .endpoint_url(&closed)
        .build();
    let url = format!("{closed}/123456789012/jobs");
    let source = SqsSource::from_queue_url(&config, &url).expect("the URL parses");

    let error = source
        .receive(ReceiveRequest::new(1, Duration::ZERO))
        .await
        .unwrap_err();

    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
    assert!(error.is_transient());
    let text = error.to_string();
    assert!(text.contains(&closed) && text.contains(&url), "{text}");
    assert!(text.contains("AWS_ENDPOINT_URL"), "{text}");
}

#[tokio::test]
async fn missing_credentials_are_an_error_saying_how_to_provide_them() {
    let without_provider = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .build();
    let absent_profile = ProfileFileCredentialsProvider::builder()
        .profile_name("workpool-test-profile-that-does-not-exist")
        .build();
    let with_absent_profile = without_provider
        .clone()
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(absent_profile))
        .build();
    let url = format!("{}/123456789012/jobs", endpoint());

    for config in [without_provider, with_absent_profile] {
        let source = SqsSource::from_queue_url(&config, &url).expect("the URL parses");
        let error = source.attributes().await.unwrap_err();

        assert!(
            matches!(error, Error::MissingCredentials { .. }),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(text.contains(&url), "{text}");
        assert!(
            text.contains("AWS_ACCESS_KEY_ID") && text.contains("AWS_PROFILE"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn aws_config_for_points_the_sdk_at_the_given_endpoint() {
    let created = create_queue(
        &aws_config().await,
        &unique_name("config-for"),
        QueueSpec::standard(),
    )
    .await;
    let config = aws_config_for(Some(&endpoint())).await;
    assert_eq!(config.endpoint_url(), Some(endpoint().as_str()));

    let source = SqsSource::from_queue_url(&config, &created.url).expect("the URL parses");
    let attributes = source
        .attributes()
        .await
        .expect("GetQueueAttributes through aws_config_for");
    assert_eq!(attributes.visible, 0);
    assert_eq!(source.name(), created.url.rsplit('/').next().unwrap());
}

#[tokio::test]
async fn a_consumer_of_a_queue_that_does_not_exist_stops_at_once_naming_it() {
    let config = aws_config().await;
    let name = unique_name("no-such-queue");
    let url = format!("{}/123456789012/{name}", endpoint());
    for visibility_timeout in [None, Some(Duration::from_secs(30))] {
        let mut consumer =
            workpool::Consumer::new(SqsSource::from_queue_url(&config, &url).unwrap());
        if let Some(timeout) = visibility_timeout {
            consumer = consumer.visibility_timeout(timeout);
        }
        let outcome = tokio::time::timeout(
            Duration::from_secs(30),
            consumer.run(tower::service_fn(
                |_message: workpool::Message<String>| async { Ok::<_, workpool::BoxError>(()) },
            )),
        )
        .await
        .expect("the consumer gives up at once instead of polling a missing queue");
        let error = outcome.unwrap_err();
        assert!(
            matches!(error, workpool::Error::Consumer { .. }),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.contains(&name) && text.contains("does not exist"),
            "{visibility_timeout:?}: {text}"
        );
    }
}
