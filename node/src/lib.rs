//! The Opmeter node.
