//! [`LocalFiles`]: a [`Store`] over this machine's file system.

use std::path::{Path, PathBuf};

use super::{StorageError, Store};
use crate::location::Location;

/// Local paths: reads copy files, writes copy to a hidden partial file beside the target and rename
/// it into place, so a reader never sees half a rendition.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalFiles;

impl LocalFiles {
    fn path(location: &Location) -> Result<&Path, StorageError> {
        match location {
            Location::Local(path) => Ok(path),
            Location::S3 { .. } => Err(StorageError::Unsupported {
                location: location.clone(),
                reason: "only local paths are configured (no S3 client)",
            }),
        }
    }
}

impl Store for LocalFiles {
    async fn exists(&self, location: &Location) -> Result<bool, StorageError> {
        let path = Self::path(location)?;
        tokio::fs::try_exists(path)
            .await
            .map_err(|error| StorageError::io("checking", path, error))
    }

    async fn download(&self, location: &Location, to: &Path) -> Result<(), StorageError> {
        let path = Self::path(location)?;
        match tokio::fs::copy(path, to).await {
            Ok(_) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Err(StorageError::NotFound(location.clone()))
            }
            Err(error) => Err(StorageError::io("copying", path, error)),
        }
    }

    async fn upload(&self, from: &Path, location: &Location) -> Result<(), StorageError> {
        let target = Self::path(location)?;
        if let Some(folder) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(folder)
                .await
                .map_err(|error| StorageError::io("creating", folder, error))?;
        }
        let partial = partial_path(target);
        tokio::fs::copy(from, &partial)
            .await
            .map_err(|error| StorageError::io("writing", &partial, error))?;
        tokio::fs::rename(&partial, target)
            .await
            .map_err(|error| StorageError::io("renaming into", target, error))
    }
}

/// `folder/.name.partial` for `folder/name`.
fn partial_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.partial"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn upload_creates_folders_and_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source.bin");
        std::fs::write(&source, b"video").unwrap();
        let target = Location::Local(dir.path().join("out/clip/360p.mp4"));

        assert!(!LocalFiles.exists(&target).await.unwrap());
        LocalFiles.upload(&source, &target).await.unwrap();
        assert!(LocalFiles.exists(&target).await.unwrap());
        let names: Vec<_> = std::fs::read_dir(dir.path().join("out/clip"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["360p.mp4"]);

        let copy = dir.path().join("copy.bin");
        LocalFiles.download(&target, &copy).await.unwrap();
        assert_eq!(std::fs::read(copy).unwrap(), b"video");
    }

    #[tokio::test]
    async fn a_missing_file_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Location::Local(dir.path().join("missing.mp4"));
        let error = LocalFiles
            .download(&missing, &dir.path().join("x"))
            .await
            .unwrap_err();
        assert!(matches!(error, StorageError::NotFound(_)), "{error}");
    }

    #[tokio::test]
    async fn s3_locations_are_refused_without_a_client() {
        let s3 = Location::parse("s3://media/in.mp4").unwrap();
        let error = LocalFiles.exists(&s3).await.unwrap_err();
        assert!(error.to_string().contains("no S3 client"), "{error}");
    }
}
