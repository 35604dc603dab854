//! The conformance suite against `MemoryQueue`, in process.

workpool_tests::conformance_tests!(workpool_tests::MemoryHarness);
