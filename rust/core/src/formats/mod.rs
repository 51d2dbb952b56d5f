//! Readers and writers of `Trace`.
