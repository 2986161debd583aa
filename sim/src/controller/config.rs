//! Controller settings (`server.properties` of a KRaft controller), with Kafka's names and
//! defaults.

use crate::broker::config::{parse_bool, positive_ms, unknown_key};
use crate::log::ConfigError;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ControllerConfig {
    /// `node.id` of the controller.
    pub node_id: i32,
    /// `broker.session.timeout.ms`: a broker that has not heartbeated for this long is fenced.
    pub broker_session_timeout_ms: i64,
    /// `auto.leader.rebalance.enable`: periodically move leadership back to preferred replicas.
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds`, in ms.
    pub leader_imbalance_check_interval_ms: i64,
    /// `unclean.leader.election.interval.ms`: how often the controller retries unclean
    /// elections for offline partitions of topics that allow them.
    pub unclean_leader_election_interval_ms: i64,
    /// `metadata.max.idle.interval.ms`-like wait of a parked metadata fetch. Kafka's broker
    /// fetches `__cluster_metadata` with `fetch.max.wait.ms` = 500 ms.
    pub metadata_fetch_max_wait_ms: i64,
}

/// The controller's node id: KRaft controllers are often numbered apart from brokers.
pub const CONTROLLER_NODE_ID: i32 = 1000;

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            node_id: CONTROLLER_NODE_ID,
            broker_session_timeout_ms: 9_000,
            auto_leader_rebalance_enable: true,
            leader_imbalance_check_interval_ms: 300_000,
            unclean_leader_election_interval_ms: 300_000,
            metadata_fetch_max_wait_ms: 500,
        }
    }
}

impl ControllerConfig {
    pub const KEYS: &'static [&'static str] = &[
        "broker.session.timeout.ms",
        "auto.leader.rebalance.enable",
        "leader.imbalance.check.interval.seconds",
        "unclean.leader.election.interval.ms",
    ];

    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        match name {
            "broker.session.timeout.ms" => {
                self.broker_session_timeout_ms = positive_ms(name, value)?
            }
            "auto.leader.rebalance.enable" => {
                self.auto_leader_rebalance_enable = parse_bool(name, value)?
            }
            "leader.imbalance.check.interval.seconds" => {
                let seconds = positive_ms(name, value)?;
                self.leader_imbalance_check_interval_ms = seconds.saturating_mul(1000);
            }
            "unclean.leader.election.interval.ms" => {
                self.unclean_leader_election_interval_ms = positive_ms(name, value)?
            }
            _ => return Err(unknown_key(name, Self::KEYS)),
        }
        Ok(())
    }
}
