//! workpool-sqs: filled by later work.
