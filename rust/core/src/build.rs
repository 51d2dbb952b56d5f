//! Tree building: flat events -> per-thread call trees.
