//! [`Blackhole`]: a local address where connecting hangs — a listener that never accepts, its
//! backlog already full — standing in for an app that is not up yet or a firewalled port.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// A listening port whose accept queue is full, so the kernel ignores new connection attempts
/// (their SYNs are dropped) and a connect neither succeeds nor is refused until it times out.
pub struct Blackhole {
    pub address: SocketAddr,
    _listener: TcpListener,
    _fillers: Vec<TcpStream>,
}

impl Blackhole {
    /// Listens with the smallest backlog and connects to itself until a connect hangs.
    pub async fn start() -> Self {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket
            .bind("127.0.0.1:0".parse().unwrap())
            .expect("bind the blackhole");
        let listener = socket.listen(0).expect("listen");
        let address = listener.local_addr().expect("the blackhole's address");
        let mut fillers = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(address))
                .await
            {
                Ok(Ok(stream)) => fillers.push(stream),
                Ok(Err(error)) => panic!("connecting to the blackhole failed: {error}"),
                // Full: this attempt hangs, as the sidecar's will.
                Err(_) => break,
            }
            assert!(fillers.len() < 64, "the backlog never filled up");
        }
        Self {
            address,
            _listener: listener,
            _fillers: fillers,
        }
    }

    /// A URL on the blackhole.
    pub fn url(&self) -> String {
        format!("http://{}/work", self.address)
    }
}
