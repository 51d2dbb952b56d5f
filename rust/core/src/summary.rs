//! Per-function summaries.
