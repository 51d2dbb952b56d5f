//! The CPython hook (owned by the recording work).
