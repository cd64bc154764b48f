//! Benchmark support for Opmeter.
