//! [`FaultProxy`]: a loopback TCP proxy in front of the emulator that can be stopped (connections
//! refused, open ones cut) and started again on the same port, to simulate an outage without
//! restarting moto — which would lose its queues and messages.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy on 127.0.0.1 forwarding to an upstream address.
#[derive(Debug)]
pub struct FaultProxy {
    address: SocketAddr,
    upstream: SocketAddr,
    running: Mutex<Option<Running>>,
    accepted: Arc<AtomicU64>,
}

#[derive(Debug)]
struct Running {
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream_endpoint` (`http://127.0.0.1:PORT`).
    ///
    /// # Panics
    /// When the endpoint is not `http://IP:PORT` or no loopback port can be bound.
    pub async fn start(upstream_endpoint: &str) -> Self {
        let upstream: SocketAddr = upstream_endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|_| panic!("{upstream_endpoint} is not http://IP:PORT"));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let proxy = Self {
            address: listener.local_addr().expect("the proxy's address"),
            upstream,
            running: Mutex::new(None),
            accepted: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    /// The endpoint to give the SDK: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// True while accepting connections.
    pub fn is_running(&self) -> bool {
        self.running.lock().unwrap().is_some()
    }

    /// Stops: the port refuses connections and every open connection is cut.
    pub async fn stop(&self) {
        let Some(running) = self.running.lock().unwrap().take() else {
            return;
        };
        running.accept.abort();
        let _ = running.accept.await;
        let connections: Vec<_> = running.connections.lock().unwrap().drain(..).collect();
        for connection in connections {
            connection.abort();
            let _ = connection.await;
        }
    }

    /// Starts again on the same port.
    ///
    /// # Panics
    /// When the port cannot be bound again within 10 seconds.
    pub async fn resume(&self) {
        if self.is_running() {
            return;
        }
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(self.address).await {
                Ok(listener) => break listener,
                Err(error) => {
                    attempts += 1;
                    assert!(
                        attempts < 100,
                        "cannot bind {} again: {error}",
                        self.address
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (upstream, accepted, tracked) =
            (self.upstream, self.accepted.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                accepted.fetch_add(1, Ordering::Relaxed);
                let connection = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut tracked = tracked.lock().unwrap();
                tracked.retain(|handle| !handle.is_finished());
                tracked.push(connection);
            }
        });
        *self.running.lock().unwrap() = Some(Running {
            accept,
            connections,
        });
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(running) = self.running.lock().unwrap().take() {
            running.accept.abort();
            for connection in running.connections.lock().unwrap().drain(..) {
                connection.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn forwards_refuses_while_stopped_and_resumes_on_the_same_port() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo_address = echo.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = echo.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buffer = [0u8; 64];
                    while let Ok(n) = socket.read(&mut buffer).await {
                        if n == 0 || socket.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let proxy = FaultProxy::start(&format!("http://{echo_address}")).await;
        let address = proxy.endpoint().trim_start_matches("http://").to_owned();
        let mut open = TcpStream::connect(&address).await.unwrap();
        open.write_all(b"ping").await.unwrap();
        let mut answer = [0u8; 4];
        open.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"ping");

        proxy.stop().await;
        assert!(
            TcpStream::connect(&address).await.is_err(),
            "refused while stopped"
        );
        let mut rest = Vec::new();
        let cut = open.read_to_end(&mut rest).await;
        assert!(
            cut.is_err() || rest.is_empty(),
            "the open connection is cut"
        );

        proxy.resume().await;
        let mut again = TcpStream::connect(&address).await.unwrap();
        again.write_all(b"pong").await.unwrap();
        again.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"pong");
        assert_eq!(proxy.accepted(), 2);
    }
}
