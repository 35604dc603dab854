//! [`HttpHandoff`]: hands each message to a local app with an HTTP POST, the way the Elastic Beanstalk
//! worker daemon (`sqsd`) does, over a keep-alive connection pool.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{HeaderName, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use workpool::{BoxError, Message, Outcome};

use crate::error::Error;
use crate::handoff_body::HandoffBody;
use crate::retry_after::parse_retry_after;
use crate::sqsd_headers::{self, sqsd_headers};
use workpool::error_chain;

/// Settings of [`HttpHandoff`].
#[derive(Debug, Clone)]
pub struct HttpHandoffConfig {
    pub(crate) url: Uri,
    queue_name: String,
    pub(crate) content_type: String,
    pub(crate) accept_any_2xx: bool,
    pub(crate) connect_timeout: Duration,
    pub(crate) inactivity_timeout: Duration,
    max_idle_connections: usize,
}

impl HttpHandoffConfig {
    /// POST to `url` (e.g. `http://127.0.0.1:8080/work`), naming `queue_name` in `X-Aws-Sqsd-Queue`.
    pub fn new(url: Uri, queue_name: impl Into<String>) -> Self {
        Self {
            url,
            queue_name: queue_name.into(),
            content_type: "application/json".into(),
            accept_any_2xx: false,
            connect_timeout: Duration::from_secs(5),
            inactivity_timeout: Duration::from_secs(299),
            max_idle_connections: 64,
        }
    }

    /// The `Content-Type` of each request. Default `application/json`.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// Whether any 2xx status means success; otherwise only 200 does (as `sqsd`). Default false.
    pub fn accept_any_2xx(mut self, accept: bool) -> Self {
        self.accept_any_2xx = accept;
        self
    }

    /// How long connecting to the app may take. Default 5 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long the app may take to answer, as `sqsd`'s "time to wait for a response": the wait from
    /// the start of the request (connecting and sending the body included) to the response's status
    /// and headers, and then each wait for the next chunk of the response body. When one wait runs
    /// past it, the request is abandoned as failed. It is not a limit on the whole exchange: a body
    /// that keeps coming in chunks closer together than this is read to its end. Default 299 s (as
    /// `sqsd`).
    pub fn inactivity_timeout(mut self, timeout: Duration) -> Self {
        self.inactivity_timeout = timeout;
        self
    }

    /// How many idle keep-alive connections to keep for reuse; set it to the concurrency. Default 64.
    pub fn max_idle_connections(mut self, connections: usize) -> Self {
        self.max_idle_connections = connections;
        self
    }

    /// The same settings for the queue named `queue_name`.
    pub(crate) fn for_queue(mut self, queue_name: &str) -> Self {
        self.queue_name = queue_name.to_owned();
        self
    }

    /// The URL requests go to.
    pub fn url(&self) -> &Uri {
        &self.url
    }
}

/// A `tower::Service` that POSTs a message's body to the app with `sqsd`'s headers.
///
/// - 200 (or any 2xx with [`HttpHandoffConfig::accept_any_2xx`]) → [`Outcome::Done`] (deleted);
/// - 429 with `Retry-After` (seconds or an HTTP date) → [`Outcome::Retry`] after that long;
/// - any other status, a refused or dropped connection, a connection not made within the connect
///   timeout, or a response (headers, then each body chunk) not coming within the inactivity
///   timeout → an error, i.e. a failure the consumer backs off.
///
/// Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct HttpHandoff {
    inner: Arc<Inner>,
}

struct Inner {
    config: HttpHandoffConfig,
    url_text: String,
    content_type: HeaderValue,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for HttpHandoff {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("HttpHandoff")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl HttpHandoff {
    /// A hand-off with these settings. Connections are opened on first use.
    pub fn new(config: HttpHandoffConfig) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(config.max_idle_connections)
            .build(connector);
        let content_type = HeaderValue::from_str(&config.content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
        Self {
            inner: Arc::new(Inner {
                url_text: config.url.to_string(),
                content_type,
                client,
                config,
            }),
        }
    }

    /// Hands one message to the app and says what became of it.
    pub async fn hand_off<B: HandoffBody>(&self, message: Message<B>) -> Result<Outcome, Error> {
        self.inner.hand_off(message).await
    }
}

impl Inner {
    async fn hand_off<B: HandoffBody>(&self, message: Message<B>) -> Result<Outcome, Error> {
        let headers = sqsd_headers(
            &self.config.queue_name,
            message.metadata(),
            SystemTime::now(),
        );
        let request = self.request(headers, message.into_body().into_bytes())?;
        let inactivity = self.config.inactivity_timeout;
        let response = match tokio::time::timeout(inactivity, self.client.request(request)).await {
            Err(_) => return Err(self.inactive()),
            Ok(Err(error)) => return Err(self.unreachable(&error)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let retry_after = response.headers().get(RETRY_AFTER).cloned();
        let mut body = response.into_body();
        loop {
            match tokio::time::timeout(inactivity, body.frame()).await {
                Err(_) => return Err(self.inactive()),
                Ok(None) => break,
                Ok(Some(Err(error))) => return Err(self.unreachable(&error)),
                Ok(Some(Ok(_frame))) => {}
            }
        }
        metrics::counter!(crate::metric_names::HTTP_RESPONSES, "status" => status.as_u16().to_string())
            .increment(1);
        if status == StatusCode::OK || (self.config.accept_any_2xx && status.is_success()) {
            return Ok(Outcome::Done);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let delay = retry_after
                .as_ref()
                .and_then(|value| value.to_str().ok())
                .and_then(|value| parse_retry_after(value, SystemTime::now()));
            if let Some(delay) = delay {
                return Ok(Outcome::Retry(delay));
            }
        }
        Err(Error::AppStatus {
            url: self.url_text.clone(),
            status: status.as_u16(),
        })
    }

    fn request(
        &self,
        headers: Vec<(String, String)>,
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, Error> {
        let mut builder = Request::post(self.config.url.clone())
            .header(CONTENT_TYPE, self.content_type.clone())
            .header(USER_AGENT, sqsd_headers::USER_AGENT);
        for (name, value) in headers {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                (Ok(name), Ok(value)) => builder = builder.header(name, value),
                _ => {
                    tracing::debug!(%name, "a message attribute cannot be an HTTP header; not sent")
                }
            }
        }
        builder
            .body(Full::new(body))
            .map_err(|error| Error::AppUnreachable {
                url: self.url_text.clone(),
                reason: format!("cannot build the request: {error}"),
            })
    }

    fn inactive(&self) -> Error {
        Error::AppInactive {
            url: self.url_text.clone(),
            timeout: self.config.inactivity_timeout,
        }
    }

    fn unreachable(&self, error: &(dyn std::error::Error + 'static)) -> Error {
        Error::AppUnreachable {
            url: self.url_text.clone(),
            reason: error_chain(error),
        }
    }
}

impl<B: HandoffBody> tower::Service<Message<B>> for HttpHandoff {
    type Response = Outcome;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Outcome, BoxError>> + Send>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, message: Message<B>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move { inner.hand_off(message).await.map_err(BoxError::from) })
    }
}
