//! The simulation kernel: a deterministic, single-threaded discrete-event world.
//!
//! Kafka knows nothing about this module and this module knows nothing about Kafka. It offers
//! the sans-IO [`Actor`] interface, the stepping [`World`] with its simulated clock, network and
//! seeded PRNG, kernel [`Command`]s (faults, cuts, inputs), the [`Timeline`] for rewinding, and
//! the trace with its stable hash. The determinism contract lives here: no hash-map iteration,
//! no wall clock, no threads, one PRNG.
//!
//! Built with `--cfg madsim`, `madsim_world` runs the same actors as madsim tasks instead,
//! for the madsim cross-check (README); [`fifo`] is its in-order delivery.

pub mod command;
pub mod fifo;
pub mod hash;
#[cfg(madsim)]
pub mod madsim_world;
pub mod network;
pub mod node;
pub mod rng;
pub mod time;
pub mod timeline;
pub mod trace;
pub mod world;

pub use command::{At, Command};
pub use fifo::FifoLink;
pub use hash::StableHasher;
pub use network::{DropReason, InFlight, LinkConfig, MessageId, Network};
pub use node::{Actor, CrashKind, Harness, MessageKind, NodeId, Out};
pub use rng::{Probability, SimRng};
pub use time::{SimTime, format_duration, parse_duration};
pub use timeline::{Steppable, Timeline};
pub use trace::{CommandNote, DroppedRoute, EventKind, NetNote, TraceEvent};
pub use world::{NodeStatus, World};

#[cfg(test)]
mod tests;
