//! The Kafka wire protocol, as the model speaks it: messages and error codes.

pub mod errors;
pub mod group;
pub mod kraft;
pub mod messages;

pub use errors::{ApiError, Errors};
pub use group::*;
pub use kraft::*;
pub use messages::*;
