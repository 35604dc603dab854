//! The in-process queue with SQS semantics (being written).
