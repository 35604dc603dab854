//! Where inputs are read and renditions written, behind one small trait: [`Store`]. [`LocalFiles`]
//! serves local paths; [`S3Objects`] serves `s3://` locations and local paths.

mod local;
mod s3;

use std::future::Future;
use std::path::Path;

pub use local::LocalFiles;
pub use s3::{s3_client, S3Objects};

use crate::location::Location;

/// Reads and writes whole files at [`Location`]s.
pub trait Store: Send + Sync + 'static {
    /// Whether something is stored at `location`.
    fn exists(
        &self,
        location: &Location,
    ) -> impl Future<Output = Result<bool, StorageError>> + Send;

    /// Copies what is stored at `location` into the local file `to`.
    fn download(
        &self,
        location: &Location,
        to: &Path,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Stores the local file `from` at `location`, whole or not at all: a reader never sees a part.
    fn upload(
        &self,
        from: &Path,
        location: &Location,
    ) -> impl Future<Output = Result<(), StorageError>> + Send;
}

/// Why a store could not read or write a location.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Nothing is stored there.
    #[error("{0} does not exist")]
    NotFound(Location),
    /// This store cannot reach that kind of location.
    #[error("{location} is not reachable from here: {reason}")]
    Unsupported {
        /// The location.
        location: Location,
        /// Why not.
        reason: &'static str,
    },
    /// A local file operation failed.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The local path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// An S3 request failed.
    #[error("S3 {operation} {location}: {message}")]
    S3 {
        /// The S3 operation.
        operation: &'static str,
        /// The object.
        location: Location,
        /// The SDK's error, with its causes.
        message: String,
    },
}

impl StorageError {
    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        StorageError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}
