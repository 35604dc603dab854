//! [`S3Objects`]: a [`Store`] over Amazon S3 (`aws-sdk-s3`) that also serves local paths.

use std::path::Path;

use aws_config::SdkConfig;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::{LocalFiles, StorageError, Store};
use crate::location::Location;

/// An S3 client for `config`. With an endpoint override (an emulator, a VPC endpoint) objects are
/// addressed by path (`http://endpoint/bucket/key`), which emulators need.
pub fn s3_client(config: &SdkConfig) -> Client {
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(config.endpoint_url().is_some())
        .build();
    Client::from_conf(s3_config)
}

/// `s3://` locations through an S3 client; local paths through [`LocalFiles`].
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
}

impl S3Objects {
    /// A store using `client` for `s3://` locations.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn failure(
    operation: &'static str,
    location: &Location,
    error: impl std::error::Error,
) -> StorageError {
    StorageError::S3 {
        operation,
        location: location.clone(),
        message: DisplayErrorContext(error).to_string(),
    }
}

impl Store for S3Objects {
    async fn exists(&self, location: &Location) -> Result<bool, StorageError> {
        let Location::S3 { bucket, key } = location else {
            return LocalFiles.exists(location).await;
        };
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(error) => Err(failure("HeadObject", location, error)),
        }
    }

    async fn download(&self, location: &Location, to: &Path) -> Result<(), StorageError> {
        let Location::S3 { bucket, key } = location else {
            return LocalFiles.download(location, to).await;
        };
        let object = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(object) => object,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(StorageError::NotFound(location.clone()))
            }
            Err(error) => return Err(failure("GetObject", location, error)),
        };
        let mut file = tokio::fs::File::create(to)
            .await
            .map_err(|error| StorageError::io("creating", to, error))?;
        let mut body = object.body.into_async_read();
        tokio::io::copy(&mut body, &mut file)
            .await
            .map_err(|error| StorageError::io("downloading into", to, error))?;
        file.sync_all()
            .await
            .map_err(|error| StorageError::io("flushing", to, error))
    }

    async fn upload(&self, from: &Path, location: &Location) -> Result<(), StorageError> {
        let Location::S3 { bucket, key } = location else {
            return LocalFiles.upload(from, location).await;
        };
        let body = ByteStream::from_path(from)
            .await
            .map_err(|error| failure("PutObject (reading the file)", location, error))?;
        let content_type = if key.ends_with(".mp4") {
            "video/mp4"
        } else {
            "application/octet-stream"
        };
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(|error| failure("PutObject", location, error))?;
        Ok(())
    }
}
