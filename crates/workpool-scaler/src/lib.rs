//! workpool-scaler: filled by later work.
