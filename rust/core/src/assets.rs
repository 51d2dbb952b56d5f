//! Embedded timeline assets.
