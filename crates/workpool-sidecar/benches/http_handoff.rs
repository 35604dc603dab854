//! B5: the sidecar's HTTP hand-off. A `MemoryQueue` feeds the consumer, whose handler is the real
//! [`HttpHandoff`] POSTing each message to a local no-op app (a tiny hyper server in this program).
//!
//! Reported per concurrency: messages/s end to end, and the latency the hand-off adds — from the
//! handler's start to the app's response being read, minus the time the app itself spent on the
//! request (measured inside the app and matched by message id).
//!
//! Run with: `cargo bench -p workpool-sidecar --bench http_handoff` (set `WORKPOOL_BENCH_MESSAGES`
//! to change the count; without `--bench`, a quick run only checks it works).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use workpool::OutgoingMessage;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use workpool::memory::{MemoryQueue, QueueConfig};
use workpool::{BoxError, Consumer, Message, Outcome};
use workpool_sidecar::{HttpHandoff, HttpHandoffConfig};

/// Time the app spent per message id, in nanoseconds.
type AppTimes = Arc<Mutex<HashMap<String, u64>>>;

/// A no-op app: reads the body, answers 200, records its own time per message.
async fn start_app(times: AppTimes) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let times = times.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let times = times.clone();
                    async move {
                        let started = Instant::now();
                        let id = request
                            .headers()
                            .get("x-aws-sqsd-msgid")
                            .and_then(|value| value.to_str().ok())
                            .unwrap_or_default()
                            .to_owned();
                        let _ = request.into_body().collect().await;
                        let response = Response::new(Full::new(Bytes::from_static(b"ok")));
                        times
                            .lock()
                            .unwrap()
                            .insert(id, started.elapsed().as_nanos() as u64);
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

/// The hand-off, timed per message: (message id, nanoseconds from handler start to response read).
#[derive(Clone)]
struct Timed {
    handoff: HttpHandoff,
    durations: Arc<Mutex<Vec<(String, u64)>>>,
}

impl tower::Service<Message<Bytes>> for Timed {
    type Response = Outcome;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Outcome, BoxError>> + Send>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, message: Message<Bytes>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let started = Instant::now();
            let id = message.id().to_owned();
            let outcome = this.handoff.hand_off(message).await?;
            let took = started.elapsed().as_nanos() as u64;
            this.durations.lock().unwrap().push((id, took));
            Ok(outcome)
        })
    }
}

fn percentile(sorted: &[u64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index] as f64 / 1_000.0
}

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let total: u64 = std::env::var("WORKPOOL_BENCH_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if full { 200_000 } else { 2_000 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        // (concurrency, receive linger): the consumer's default linger (20 ms) trades a little latency
        // for full receives of ten, which matters on SQS but only idles slots on a MemoryQueue.
        let defaults = Duration::from_millis(20);
        for (concurrency, linger) in [
            (1, defaults),
            (16, defaults),
            (64, defaults),
            (16, Duration::ZERO),
            (64, Duration::ZERO),
        ] {
            let app_times: AppTimes = Arc::new(Mutex::new(HashMap::with_capacity(total as usize)));
            let app = start_app(app_times.clone()).await;
            let queue = MemoryQueue::new(QueueConfig::standard("bench")).unwrap();
            let sent = total.div_ceil(10) * 10;
            // Keep the queue shallow (as B1 does), so what is measured is the hand-off, not depth.
            let producer_queue = queue.clone();
            let producer = tokio::spawn(async move {
                let mut batches = 0u64;
                while batches < sent / 10 {
                    if producer_queue.len() < 5_000 {
                        let requests =
                            (0..10).map(|n| OutgoingMessage::new(format!("{{\"job\":{n}}}"))).collect();
                        producer_queue.send_batch(requests).unwrap();
                        batches += 1;
                    } else {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            });
            let handoff = HttpHandoff::new(
                HttpHandoffConfig::new(format!("http://{app}/work").parse().unwrap(), "bench")
                    .max_idle_connections(concurrency),
            );
            let durations = Arc::new(Mutex::new(Vec::with_capacity(sent as usize)));
            let service = Timed { handoff, durations: durations.clone() };
            let watched = queue.clone();
            let done = async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    let counts = watched.attributes_now();
                    if producer.is_finished() && counts.visible + counts.not_visible == 0 {
                        return;
                    }
                }
            };
            let started = Instant::now();
            let summary = Consumer::new(queue)
                .concurrency(concurrency)
                .wait_time(Duration::from_millis(100))
                .receive_linger(linger)
                .run(service)
                .with_graceful_shutdown(done)
                .await
                .unwrap();
            let elapsed = started.elapsed();
            assert_eq!(summary.succeeded, sent, "{summary:?}");
            assert_eq!(summary.deleted, sent, "{summary:?}");
            let app_times = app_times.lock().unwrap();
            let mut total_ns: Vec<u64> = Vec::with_capacity(sent as usize);
            let mut added_ns: Vec<u64> = Vec::with_capacity(sent as usize);
            for (id, took) in durations.lock().unwrap().iter() {
                let in_app = app_times.get(id).copied().expect("the app saw every message");
                total_ns.push(*took);
                added_ns.push(took.saturating_sub(in_app));
            }
            total_ns.sort_unstable();
            added_ns.sort_unstable();
            println!(
                "B5 concurrency={concurrency:<3} receive_linger={linger:?} messages={sent} time={:.2}s \
                 throughput={:.0} msgs/s added latency p50={:.0}us p99={:.0}us max={:.0}us (handler time p99={:.0}us)",
                elapsed.as_secs_f64(),
                sent as f64 / elapsed.as_secs_f64(),
                percentile(&added_ns, 0.50),
                percentile(&added_ns, 0.99),
                percentile(&added_ns, 1.0),
                percentile(&total_ns, 0.99),
            );
        }
    });
}
