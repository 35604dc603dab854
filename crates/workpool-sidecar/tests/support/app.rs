//! A real local HTTP app the sidecar hands messages to: it records every request and answers as the
//! test says (a status with headers, hanging, or dropping the connection), and counts the TCP
//! connections it accepted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What the app does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer this status with these headers, after a pause.
    Status {
        /// The status.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// How long to work before answering.
        after: Duration,
    },
    /// Never answer (until the sidecar gives up and closes the connection).
    Hang,
    /// Read the request, then close the connection without answering.
    Drop,
}

impl Reply {
    /// 200 at once.
    pub fn ok() -> Self {
        Self::status(200)
    }

    /// This status at once, no headers.
    pub fn status(status: u16) -> Self {
        Reply::Status {
            status,
            headers: Vec::new(),
            after: Duration::ZERO,
        }
    }
}

/// One request the app received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: String,
    /// When it arrived.
    pub at: tokio::time::Instant,
}

type Behaviour = dyn Fn(&Received, usize) -> Reply + Send + Sync;

/// The running app.
#[derive(Clone)]
pub struct App {
    pub address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
}

impl App {
    /// Starts an app on 127.0.0.1 that answers the n-th request (0-based) as `behaviour` says.
    pub async fn start(
        behaviour: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the app");
        let address = listener.local_addr().expect("the app's address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let behaviour: Arc<Behaviour> = Arc::new(behaviour);
        let log = received.clone();
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = connections.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let behaviour = behaviour.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let behaviour = behaviour.clone();
                        let log = log.clone();
                        async move { answer(request, &*behaviour, &log).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            address,
            received,
            connections,
        }
    }

    /// The URL to hand off to.
    pub fn url(&self) -> String {
        format!("http://{}/work", self.address)
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// How many requests so far.
    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// How many TCP connections the app accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn answer(
    request: Request<Incoming>,
    behaviour: &Behaviour,
    log: &Mutex<Vec<Received>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let body = request
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let received = Received {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: tokio::time::Instant::now(),
    };
    let reply = {
        let mut log = log.lock().unwrap();
        let reply = behaviour(&received, log.len());
        log.push(received);
        reply
    };
    match reply {
        Reply::Status {
            status,
            headers,
            after,
        } => {
            tokio::time::sleep(after).await;
            let mut response = Response::new(Full::new(Bytes::from_static(b"done")));
            *response.status_mut() =
                hyper::StatusCode::from_u16(status).map_err(std::io::Error::other)?;
            for (name, value) in headers {
                response.headers_mut().insert(
                    hyper::header::HeaderName::from_bytes(name.as_bytes())
                        .map_err(std::io::Error::other)?,
                    value.parse().map_err(std::io::Error::other)?,
                );
            }
            Ok(response)
        }
        Reply::Hang => {
            std::future::pending::<()>().await;
            unreachable!("pending never completes")
        }
        // An error from the service makes hyper close the connection without a response.
        Reply::Drop => Err(std::io::Error::other("dropping the connection")),
    }
}
