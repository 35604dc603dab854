//! The `workpool` binary.
fn main() {}
