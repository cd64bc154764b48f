//! End-to-end test support for Opmeter.
