//! The smallest real workpool consumer: prints every message of an SQS queue, then deletes it.
//!
//! Run with: `QUEUE_URL=<url> cargo run -p hello` (see README.md for running it against the emulator).

use tower::service_fn;
use workpool::{BoxError, Consumer, Message};
use workpool_sqs::SqsSource;

async fn hello(message: Message<String>) -> Result<(), BoxError> {
    println!("{}: {}", message.id(), message.body());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // Logs on stderr; stdout carries only the messages.
    tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_writer(std::io::stderr)
        .init();
    let queue_url = std::env::var("QUEUE_URL").map_err(|_| "set QUEUE_URL to the queue's URL")?;
    let config =
        workpool_sqs::aws_config_for(std::env::var("AWS_ENDPOINT_URL").ok().as_deref()).await;
    let summary = Consumer::new(SqsSource::from_queue_url(&config, &queue_url)?)
        .concurrency(8)
        .run(service_fn(hello))
        .with_graceful_shutdown(workpool::shutdown_signal())
        .await?;
    println!("handled {} messages", summary.succeeded);
    Ok(())
}
