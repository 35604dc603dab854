//! The status server: `GET /healthz` (ready, and the app healthy if it has a health URL) and
//! `GET /metrics` (Prometheus text), bound to 127.0.0.1 by default.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::Error;

/// How long the app's health URL may take to answer.
const APP_HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// What the status server reports. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Status {
    inner: Arc<StatusInner>,
}

#[derive(Debug)]
struct StatusInner {
    metrics: Option<PrometheusHandle>,
    app_health_url: Option<Uri>,
    client: Client<HttpConnector, Empty<Bytes>>,
    stopping: AtomicBool,
}

impl Status {
    /// A status that renders `metrics` (if a recorder is installed) and checks `app_health_url`.
    pub fn new(metrics: Option<PrometheusHandle>, app_health_url: Option<Uri>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(APP_HEALTH_TIMEOUT));
        Self {
            inner: Arc::new(StatusInner {
                metrics,
                app_health_url,
                client: Client::builder(TokioExecutor::new()).build(connector),
                stopping: AtomicBool::new(false),
            }),
        }
    }

    /// From now on `/healthz` answers 503: the sidecar is draining or stopping.
    pub fn set_stopping(&self) {
        self.inner.stopping.store(true, Ordering::Relaxed);
    }

    /// The `/healthz` answer: status and a one-line reason.
    pub async fn health(&self) -> (StatusCode, String) {
        if self.inner.stopping.load(Ordering::Relaxed) {
            return (StatusCode::SERVICE_UNAVAILABLE, "stopping\n".into());
        }
        let Some(url) = &self.inner.app_health_url else {
            return (StatusCode::OK, "ok\n".into());
        };
        let request = Request::get(url.clone()).body(Empty::new());
        let answer = match request {
            Ok(request) => {
                tokio::time::timeout(APP_HEALTH_TIMEOUT, self.inner.client.request(request)).await
            }
            Err(error) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("bad health URL: {error}\n"),
                )
            }
        };
        match answer {
            Ok(Ok(response)) if response.status().is_success() => (StatusCode::OK, "ok\n".into()),
            Ok(Ok(response)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the app's health URL {url} answered {}\n",
                    response.status()
                ),
            ),
            Ok(Err(error)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the app's health URL {url} is unreachable: {error}\n"),
            ),
            Err(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the app's health URL {url} did not answer within {APP_HEALTH_TIMEOUT:?}\n"
                ),
            ),
        }
    }

    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (status, body, content_type) = match (request.method(), request.uri().path()) {
            (&Method::GET, "/healthz") => {
                let (status, body) = self.health().await;
                (status, body, "text/plain; charset=utf-8")
            }
            (&Method::GET, "/metrics") => match &self.inner.metrics {
                Some(handle) => (StatusCode::OK, handle.render(), "text/plain; version=0.0.4"),
                None => (
                    StatusCode::NOT_FOUND,
                    "no metrics recorder installed\n".into(),
                    "text/plain; charset=utf-8",
                ),
            },
            _ => (
                StatusCode::NOT_FOUND,
                "not found: try /healthz or /metrics\n".into(),
                "text/plain; charset=utf-8",
            ),
        };
        let _ = request.into_body().collect().await;
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        if let Ok(value) = http::HeaderValue::from_str(content_type) {
            response
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, value);
        }
        response
    }
}

/// Binds the status server's address (`127.0.0.1:0` picks a free port).
pub async fn bind_status(address: &str) -> Result<TcpListener, Error> {
    TcpListener::bind(address)
        .await
        .map_err(|source| Error::Listen {
            address: address.to_owned(),
            source,
        })
}

/// Serves `/healthz` and `/metrics` on `listener` until `stop`.
pub async fn serve_status(listener: TcpListener, status: Status, stop: CancellationToken) {
    let local: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(address = ?local, "serving /healthz and /metrics");
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "status server: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let status = status.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let status = status.clone();
                async move { Ok::<_, Infallible>(status.answer(request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                () = stop.cancelled() => {}
            }
        });
    }
}
