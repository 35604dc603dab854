//! The demo owns the terminal: its consumers and controller log warnings only, unless `RUST_LOG` asks
//! for more (then the binary's own subscriber is used unchanged).

use tracing_subscriber::EnvFilter;

/// The subscriber the demo's tasks log through: the process's own when `RUST_LOG` is set, otherwise
/// one that writes warnings and errors to stderr, so info lines do not bury the progress display.
pub fn demo_logs() -> tracing::Dispatch {
    if std::env::var_os("RUST_LOG").is_some() {
        return tracing::dispatcher::get_default(Clone::clone);
    }
    tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("warn"))
            .with_writer(std::io::stderr)
            .finish(),
    )
}
