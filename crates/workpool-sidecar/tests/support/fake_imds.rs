//! A local HTTP server standing in for EC2 instance metadata (IMDSv2): `PUT /latest/api/token` hands
//! out a token, and GETs of the metadata paths answer from a table the test changes, only with the
//! token. Unknown paths answer 404, as IMDS does (e.g. no Spot notice yet).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const TOKEN: &str = "fake-imds-token";

/// The running stand-in.
#[derive(Clone)]
pub struct FakeImds {
    pub address: SocketAddr,
    items: Arc<Mutex<BTreeMap<String, String>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeImds {
    /// Starts it with an instance id and target lifecycle state `InService`.
    pub async fn start(instance_id: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake IMDS");
        let address = listener.local_addr().expect("fake IMDS address");
        let mut items = BTreeMap::new();
        items.insert(
            "/latest/meta-data/instance-id".to_owned(),
            instance_id.to_owned(),
        );
        items.insert(
            "/latest/meta-data/autoscaling/target-lifecycle-state".to_owned(),
            "InService".to_owned(),
        );
        let imds = Self {
            address,
            items: Arc::new(Mutex::new(items)),
            requests: Arc::new(Mutex::new(Vec::new())),
        };
        let server = imds.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let server = server.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let server = server.clone();
                        async move { Ok::<_, std::convert::Infallible>(server.answer(&request)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        imds
    }

    /// The endpoint to give the sidecar.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Sets a metadata item (e.g. the target lifecycle state, a Spot notice).
    pub fn set(&self, path: &str, value: &str) {
        self.items
            .lock()
            .unwrap()
            .insert(path.to_owned(), value.to_owned());
    }

    /// Every request so far, as `METHOD path`.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn answer(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_owned();
        self.requests
            .lock()
            .unwrap()
            .push(format!("{} {path}", request.method()));
        let reply = |status: StatusCode, body: String| {
            let mut response = Response::new(Full::new(Bytes::from(body)));
            *response.status_mut() = status;
            response
        };
        if request.method() == Method::PUT && path == "/latest/api/token" {
            if request
                .headers()
                .get("x-aws-ec2-metadata-token-ttl-seconds")
                .is_none()
            {
                return reply(StatusCode::BAD_REQUEST, "missing TTL".into());
            }
            let mut response = reply(StatusCode::OK, TOKEN.into());
            response.headers_mut().insert(
                "x-aws-ec2-metadata-token-ttl-seconds",
                hyper::header::HeaderValue::from_static("21600"),
            );
            return response;
        }
        if request.method() != Method::GET {
            return reply(StatusCode::METHOD_NOT_ALLOWED, String::new());
        }
        let token = request.headers().get("x-aws-ec2-metadata-token");
        if token.and_then(|value| value.to_str().ok()) != Some(TOKEN) {
            return reply(StatusCode::UNAUTHORIZED, String::new());
        }
        match self.items.lock().unwrap().get(&path) {
            Some(value) => reply(StatusCode::OK, value.clone()),
            None => reply(StatusCode::NOT_FOUND, "Not Found".into()),
        }
    }
}
