//! End-to-end tests against the emulator.
