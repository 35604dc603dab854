//! A small consumer process for the reliability tests (SIGTERM and SIGKILL mid-run).
//!
//! ```text
//! test_consumer QUEUE_URL [--concurrency N] [--handle-ms MS] [--grace-ms MS] [--record FILE]
//! ```
//!
//! It consumes the queue at QUEUE_URL on the emulator (`WORKPOOL_TEST_ENDPOINT`), each handler sleeping
//! `--handle-ms` then succeeding. With `--record`, it appends `start BODY RECEIVE_COUNT` when a
//! handler starts and `done BODY RECEIVE_COUNT` when it succeeds (one `write` per line). SIGTERM or
//! SIGINT starts a graceful shutdown; at the end it prints one line
//! `summary received=N succeeded=N failed=N released=N deleted=N acknowledgements_failed=N` on
//! stdout and exits 0 (1 with the error on stderr if the consumer fails).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower::service_fn;
use workpool::{BoxError, Consumer, Message};
use workpool_sqs::SqsSource;

struct Options {
    queue_url: String,
    concurrency: usize,
    handle: Duration,
    grace: Duration,
    record: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let usage = "usage: test_consumer QUEUE_URL [--concurrency N] [--handle-ms MS] \
                 [--grace-ms MS] [--record FILE]";
    let mut options = Options {
        queue_url: String::new(),
        concurrency: 4,
        handle: Duration::from_millis(500),
        grace: Duration::from_secs(10),
        record: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value; {usage}"));
        let number = |name: &str, text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("{name}: not a number: {text:?}"))
        };
        match arg.as_str() {
            "--concurrency" => {
                options.concurrency = number(&arg, value(&arg)?)? as usize;
            }
            "--handle-ms" => {
                options.handle = Duration::from_millis(number(&arg, value(&arg)?)?);
            }
            "--grace-ms" => options.grace = Duration::from_millis(number(&arg, value(&arg)?)?),
            "--record" => options.record = Some(value(&arg)?),
            other if other.starts_with("--") => {
                return Err(format!("unknown flag {other}; {usage}"))
            }
            other => options.queue_url = other.to_owned(),
        }
    }
    if options.queue_url.is_empty() {
        return Err(usage.to_owned());
    }
    Ok(options)
}

fn record(file: &Option<Arc<Mutex<File>>>, line: String) {
    if let Some(file) = file {
        let mut file = file.lock().expect("the record file lock");
        file.write_all(line.as_bytes())
            .expect("append to the record file");
    }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter("info,aws_smithy_runtime=warn,aws_config=warn")
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(problem) => {
            eprintln!("test_consumer: {problem}");
            std::process::exit(2);
        }
    };
    let record_file = options.record.as_ref().map(|path| {
        Arc::new(Mutex::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open the record file"),
        ))
    });
    let config = workpool_tests::aws_config().await;
    let source = match SqsSource::from_queue_url(&config, &options.queue_url) {
        Ok(source) => source,
        Err(error) => {
            eprintln!("test_consumer: {error}");
            std::process::exit(1);
        }
    };
    let handle = options.handle;
    let handler = service_fn(move |message: Message<String>| {
        let file = record_file.clone();
        async move {
            let (body, count) = (message.body().clone(), message.receive_count());
            record(&file, format!("start {body} {count}\n"));
            tokio::time::sleep(handle).await;
            record(&file, format!("done {body} {count}\n"));
            Ok::<_, BoxError>(())
        }
    });
    let result = Consumer::new(source)
        .concurrency(options.concurrency)
        .wait_time(Duration::from_secs(1))
        .grace_period(options.grace)
        .run(handler)
        .with_graceful_shutdown(workpool::shutdown_signal())
        .await;
    match result {
        Ok(summary) => {
            println!(
                "summary received={} succeeded={} failed={} released={} deleted={} \
                 acknowledgements_failed={}",
                summary.received,
                summary.succeeded,
                summary.failed,
                summary.released,
                summary.deleted,
                summary.acknowledgements_failed
            );
        }
        Err(error) => {
            eprintln!("test_consumer: {error}");
            std::process::exit(1);
        }
    }
}
