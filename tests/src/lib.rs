//! # workpool-tests
//!
//! Support for workpool's end-to-end tests, which talk to the local AWS emulator (moto) through the
//! real AWS SDK: its configuration ([`aws_config()`], which panics when `WORKPOOL_TEST_ENDPOINT` is not
//! set, so such tests fail rather than skip without the emulator), unique queue names, creating
//! queues, and the [`conformance`] suite run against both queue sources.
//!
//! Run the tests with `scripts/test`, which starts the emulator and sets the environment.
//!
//! ## Quickstart
//!
//! ```no_run
//! use workpool_tests::{aws_config, create_queue, unique_name, QueueSpec};
//!
//! # async fn example() {
//! let config = aws_config().await;
//! let dead_letters = create_queue(&config, &unique_name("jobs-dlq"), QueueSpec::standard()).await;
//! let spec = QueueSpec::standard().redrive(dead_letters.arn, 3);
//! let queue = create_queue(&config, &unique_name("jobs"), spec).await;
//! let source = workpool_sqs::SqsSource::from_queue_url(&config, &queue.url).unwrap();
//! # }
//! ```

mod auto_scaling_group;
pub mod conformance;
mod emulator;
mod memory_harness;
pub mod reliability;
mod sqs_harness;

pub use auto_scaling_group::{create_group, describe_group, EMULATOR_BOOT_TAG};
pub use emulator::{
    aws_config, create_queue, endpoint, unique_name, CreatedQueue, QueueSpec, ENDPOINT_VARIABLE,
};
pub use memory_harness::MemoryHarness;
pub use sqs_harness::SqsHarness;
