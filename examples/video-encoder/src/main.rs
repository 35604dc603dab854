//! The `video-encoder` binary.

fn main() {}
