//! [`Location`]: where a file lives, an S3 object (`s3://bucket/key`) or a local path.

use std::fmt;
use std::path::PathBuf;

/// Where an input or an output lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An S3 object, written `s3://bucket/key`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The object key (empty for a whole-bucket prefix).
        key: String,
    },
    /// A path on this machine.
    Local(PathBuf),
}

/// Why a text is not a location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// The text is empty.
    #[error("the location is empty")]
    Empty,
    /// `s3://` without a bucket.
    #[error("{0:?} names no bucket (expected s3://bucket/key)")]
    NoBucket(String),
}

impl Location {
    /// Parses `s3://bucket/key` as an S3 object and anything else as a local path.
    pub fn parse(text: &str) -> Result<Self, LocationError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(LocationError::Empty);
        }
        let Some(rest) = text.strip_prefix("s3://") else {
            return Ok(Location::Local(PathBuf::from(text)));
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(LocationError::NoBucket(text.to_owned()));
        }
        Ok(Location::S3 {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }

    /// The location of `name` inside this one, taken as a folder (or key prefix).
    pub fn join(&self, name: &str) -> Location {
        match self {
            Location::S3 { bucket, key } => {
                let prefix = key.trim_end_matches('/');
                let key = if prefix.is_empty() {
                    name.to_owned()
                } else {
                    format!("{prefix}/{name}")
                };
                Location::S3 {
                    bucket: bucket.clone(),
                    key,
                }
            }
            Location::Local(path) => Location::Local(path.join(name)),
        }
    }

    /// The last part of the key or path, if there is one.
    pub fn file_name(&self) -> Option<&str> {
        match self {
            Location::S3 { key, .. } => key.rsplit('/').next().filter(|name| !name.is_empty()),
            Location::Local(path) => path.file_name().and_then(|name| name.to_str()),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            Location::Local(path) => write!(f, "{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_split_into_bucket_and_key() {
        assert_eq!(
            Location::parse("s3://media/in/cat.mp4"),
            Ok(Location::S3 {
                bucket: "media".into(),
                key: "in/cat.mp4".into()
            })
        );
        assert_eq!(
            Location::parse("s3://media"),
            Ok(Location::S3 {
                bucket: "media".into(),
                key: String::new()
            })
        );
    }

    #[test]
    fn anything_else_is_a_local_path() {
        assert_eq!(
            Location::parse("/tmp/cat.mp4"),
            Ok(Location::Local("/tmp/cat.mp4".into()))
        );
        assert_eq!(Location::parse("out"), Ok(Location::Local("out".into())));
    }

    #[test]
    fn empty_text_and_missing_buckets_are_refused() {
        assert_eq!(Location::parse("  "), Err(LocationError::Empty));
        assert!(matches!(
            Location::parse("s3:///key"),
            Err(LocationError::NoBucket(_))
        ));
    }

    #[test]
    fn join_adds_one_separator() {
        let prefix = Location::parse("s3://media/out/").unwrap();
        assert_eq!(
            prefix.join("360p.mp4").to_string(),
            "s3://media/out/360p.mp4"
        );
        let bucket = Location::parse("s3://media").unwrap();
        assert_eq!(bucket.join("360p.mp4").to_string(), "s3://media/360p.mp4");
        let folder = Location::parse("/srv/out").unwrap();
        assert_eq!(folder.join("360p.mp4").to_string(), "/srv/out/360p.mp4");
    }

    #[test]
    fn file_name_is_the_last_part() {
        assert_eq!(
            Location::parse("s3://media/in/cat.mp4")
                .unwrap()
                .file_name(),
            Some("cat.mp4")
        );
        assert_eq!(Location::parse("s3://media/").unwrap().file_name(), None);
        assert_eq!(
            Location::parse("clips/dog.mov").unwrap().file_name(),
            Some("dog.mov")
        );
    }
}
