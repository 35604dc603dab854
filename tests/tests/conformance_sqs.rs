//! The conformance suite against `SqsSource` on the emulator (moto), through the real AWS SDK.
//! Fails (never skips) when `WORKPOOL_TEST_ENDPOINT` is not set: run it with `scripts/test`.

workpool_tests::conformance_tests!(workpool_tests::SqsHarness::connect().await);
