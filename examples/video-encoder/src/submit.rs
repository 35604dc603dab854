//! The producer: uploads a local input when the job needs it in S3, then enqueues the job.

use std::path::{Path, PathBuf};

use workpool_sqs::{OutgoingMessage, Producer};

use crate::job::{InvalidJob, Job, Rendition};
use crate::location::{Location, LocationError};
use crate::storage::{StorageError, Store};

/// What to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The source video: a local file or `s3://bucket/key`.
    pub input: String,
    /// Where the renditions go: `s3://bucket/prefix` or a local folder.
    pub output_prefix: String,
    /// The renditions to make.
    pub renditions: Vec<Rendition>,
    /// Where to upload a local input. Default: `<output_prefix>/source/<file name>` when the
    /// outputs go to S3; a local input stays where it is when they go to a local folder.
    pub upload_to: Option<String>,
}

/// What was submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The job as enqueued.
    pub job: Job,
    /// Where the input was uploaded, if it was.
    pub uploaded_to: Option<Location>,
    /// The queue's id for the message.
    pub message_id: String,
}

/// Why a submission failed.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// A location does not parse.
    #[error("{what}")]
    Location {
        /// Which argument.
        what: &'static str,
        /// Why.
        #[source]
        source: LocationError,
    },
    /// The job would be refused by the worker.
    #[error(transparent)]
    Invalid(#[from] InvalidJob),
    /// The local input is not there.
    #[error("the input {} is not a readable file", .0.display())]
    Input(PathBuf, #[source] std::io::Error),
    /// The local output folder has no absolute form (the current directory is gone).
    #[error("the output folder {} has no absolute path", .0.display())]
    OutputFolder(PathBuf, #[source] std::io::Error),
    /// Uploading the input failed.
    #[error("uploading the input")]
    Upload(#[source] StorageError),
    /// Sending the message failed.
    #[error("enqueuing the job")]
    Send(#[from] workpool_sqs::Error),
}

/// Where a local input must be uploaded for a job writing to `output_prefix`, or `None` when the
/// worker can read it where it is (outputs to a local folder, no explicit upload target).
pub fn upload_target(
    input_file: &Path,
    output_prefix: &Location,
    explicit: Option<Location>,
) -> Option<Location> {
    if explicit.is_some() {
        return explicit;
    }
    match output_prefix {
        Location::S3 { .. } => {
            let name = input_file
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| "input".to_owned());
            Some(output_prefix.join("source").join(&name))
        }
        Location::Local(_) => None,
    }
}

/// Checks the job, uploads a local input if it needs to be in S3, and enqueues the job.
pub async fn submit<S: Store>(
    store: &S,
    producer: &Producer,
    submission: &Submission,
) -> Result<Submitted, SubmitError> {
    let location = |what, text: &str| {
        Location::parse(text).map_err(|source| SubmitError::Location { what, source })
    };
    let input = location("--input", &submission.input)?;
    let prefix = location("--output-prefix", &submission.output_prefix)?;
    let explicit = submission
        .upload_to
        .as_deref()
        .map(|text| location("--upload-to", text))
        .transpose()?;

    let (job_input, uploaded_to) = match &input {
        Location::S3 { .. } => (input.clone(), None),
        Location::Local(path) => {
            let absolute = std::fs::canonicalize(path)
                .map_err(|error| SubmitError::Input(path.clone(), error))?;
            match upload_target(&absolute, &prefix, explicit) {
                Some(target) => (target.clone(), Some(target)),
                None => (Location::Local(absolute), None),
            }
        }
    };
    // A worker on the same machine may run elsewhere in the tree: local paths go out absolute.
    let output_prefix = match &prefix {
        Location::Local(path) => Location::Local(
            std::path::absolute(path)
                .map_err(|error| SubmitError::OutputFolder(path.clone(), error))?,
        ),
        remote => remote.clone(),
    };
    let job = Job {
        input: job_input.to_string(),
        outputs: submission.renditions.clone(),
        output_prefix: output_prefix.to_string(),
    };
    job.plan()?;

    if let (Location::Local(path), Some(target)) = (&input, &uploaded_to) {
        tracing::info!(from = %path.display(), to = %target, "uploading the input");
        store
            .upload(path, target)
            .await
            .map_err(SubmitError::Upload)?;
    }
    let body = serde_json::to_string(&job).expect("a job always serialises");
    let sent = producer.send(OutgoingMessage::new(body)).await?;
    tracing::info!(message = %sent.message_id, input = %job.input, "job enqueued");
    Ok(Submitted {
        job,
        uploaded_to,
        message_id: sent.message_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_outputs_put_the_input_beside_them() {
        let prefix = Location::parse("s3://media/out/cat").unwrap();
        assert_eq!(
            upload_target(Path::new("/home/me/cat.mov"), &prefix, None).map(|l| l.to_string()),
            Some("s3://media/out/cat/source/cat.mov".to_owned())
        );
    }

    #[test]
    fn an_explicit_target_wins() {
        let prefix = Location::parse("out").unwrap();
        let explicit = Location::parse("s3://inbox/cat.mov").unwrap();
        assert_eq!(
            upload_target(Path::new("cat.mov"), &prefix, Some(explicit.clone())),
            Some(explicit)
        );
    }

    #[test]
    fn local_outputs_read_the_input_in_place() {
        let prefix = Location::parse("/srv/out").unwrap();
        assert_eq!(
            upload_target(Path::new("/srv/cat.mov"), &prefix, None),
            None
        );
    }
}
