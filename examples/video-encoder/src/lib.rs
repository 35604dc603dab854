//! # video-encoder
//!
//! A workpool worker template: takes encoding jobs from an SQS queue, encodes each rendition with a
//! real ffmpeg process and writes it to S3 or a local folder; the message is deleted only when every
//! rendition is written. A producer uploads an input and enqueues its job.
//!
//! The parts, one idea each:
//! - [`job`]: the message body (serde) and its validation into a plan;
//! - [`location`]: `s3://bucket/key` or a local path;
//! - [`probe`]: ffprobe, for the input's duration and streams;
//! - [`encode`]: the ffmpeg command line (a pure function), progress, killing on a lost lease;
//! - [`storage`]: S3 and local files behind the [`storage::Store`] trait;
//! - [`process`]: one job from start to end (skip what exists, fetch, probe, encode, store);
//! - [`visibility`]: the visibility timeout a job gets once its input's duration is known;
//! - [`worker`]: the workpool consumer around it;
//! - [`submit`]: the producer.

pub mod encode;
pub mod job;
pub mod location;
pub mod probe;
pub mod process;
pub mod stderr_tail;
pub mod storage;
pub mod submit;
pub mod visibility;
pub mod worker;
