//! Exit codes by failure class, so scripts and CI can tell failures apart (DESIGN §6).

/// Success.
pub const OK: u8 = 0;
/// A runtime error: a file could not be read or written.
pub const ERROR: u8 = 1;
/// Bad usage: an unknown flag or scenario, a malformed scenario file.
pub const USAGE: u8 = 2;
/// An expectation or invariant was violated.
pub const VIOLATION: u8 = 3;
/// The cluster did not converge after the faults healed.
pub const LIVENESS: u8 = 4;
/// The same seed gave two different traces.
pub const NON_DETERMINISM: u8 = 5;
