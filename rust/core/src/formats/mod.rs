//! Readers and writers of [`Trace`](crate::Trace): one module per format. Formats never talk to each other.

pub mod pyme_text;
