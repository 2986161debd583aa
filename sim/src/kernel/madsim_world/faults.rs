//! The madsim engine's kernel commands: each with the World's meaning (`world.rs`), done with
//! madsim's own fault injection where it has one — kill, restart, pause, resume, clog.

use super::{MadsimActor, Observer, Shared, SharedRef, lock, spawn_on};
use crate::kernel::command::Command;
use crate::kernel::node::{CrashKind, NodeId};
use crate::kernel::trace::{CommandNote, EventKind};
use crate::kernel::world::NodeStatus;
use ::madsim::net::NetSim;
use ::madsim::runtime::Handle;

impl<A, O> Shared<A, O>
where
    A: MadsimActor,
    O: Observer<A>,
{
    // ----- commands ------------------------------------------------------------------------

    pub(super) fn apply_command(this: &SharedRef<A, O>, command: Command<A>) {
        if let Command::AddNode { name, node } = command {
            Shared::add_node(this, name.clone(), *node);
            let mut shared = lock(this);
            let event = shared.event(None, EventKind::Command(CommandNote::AddNode { name }));
            shared.record(event);
            return;
        }
        lock(this).command(command);
    }

    fn command(&mut self, command: Command<A>) {
        let node = command.target();
        let note = match command {
            Command::Crash(n, kind) => return self.crash(n, kind),
            Command::Input(n, input) => return self.input(n, input),
            Command::Restart(n) => {
                self.restart(n);
                CommandNote::Restart
            }
            Command::Pause(n) => {
                if self.set_status_from(n, NodeStatus::Running, NodeStatus::Paused) {
                    Handle::current().pause(self.nodes[n.0 as usize].madsim_id);
                }
                CommandNote::Pause
            }
            Command::Resume(n) => {
                if self.set_status_from(n, NodeStatus::Paused, NodeStatus::Running) {
                    Handle::current().resume(self.nodes[n.0 as usize].madsim_id);
                }
                CommandNote::Resume
            }
            Command::RemoveNode(n) => {
                self.kill(n, NodeStatus::Removed);
                CommandNote::RemoveNode
            }
            other => self.network_command(other),
        };
        let event = self.event(node, EventKind::Command(note));
        self.record(event);
    }

    fn network_command(&mut self, command: Command<A>) -> CommandNote {
        match command {
            Command::Cut { from, to, both } => {
                self.network.cut(from, to, both);
                self.clog(from, to, both, true);
                CommandNote::Cut { from, to, both }
            }
            Command::Heal { from, to, both } => {
                self.network.heal(from, to, both);
                self.clog(from, to, both, false);
                CommandNote::Heal { from, to, both }
            }
            Command::HealAll => {
                let cuts: Vec<(NodeId, NodeId)> = self.network.cuts().collect();
                for (from, to) in cuts {
                    self.clog(from, to, false, false);
                }
                self.network.heal_all();
                CommandNote::HealAll
            }
            // madsim has one latency range for all links, set when the runtime is built:
            // link settings change only what this engine draws (loss, duplication) and the
            // delay of connection resets.
            Command::SetLink { from, to, config } => {
                self.network.set_link(from, to, config);
                CommandNote::SetLink { from, to, config }
            }
            Command::SetDefaultLink(config) => {
                self.network.set_default_link(config);
                CommandNote::SetDefaultLink(config)
            }
            // A message on madsim's network cannot be reached (only interactive play drops
            // one by id).
            Command::DropMessage(id) => CommandNote::DropMessage { id, found: None },
            _ => unreachable!("node commands are handled by `command`"),
        }
    }

    /// Clogs (or unclogs) the madsim link `from → to`, and `to → from` when `both`.
    fn clog(&self, from: NodeId, to: NodeId, both: bool, clogged: bool) {
        let net = NetSim::current();
        let (a, b) = (self.madsim_id(from), self.madsim_id(to));
        let pairs: &[_] = if both { &[(a, b), (b, a)] } else { &[(a, b)] };
        for (src, dst) in pairs {
            if clogged {
                net.clog_link(*src, *dst);
            } else {
                net.unclog_link(*src, *dst);
            }
        }
    }

    fn madsim_id(&self, node: NodeId) -> ::madsim::task::NodeId {
        self.nodes[node.0 as usize].madsim_id
    }

    fn set_status_from(&mut self, node: NodeId, from: NodeStatus, to: NodeStatus) -> bool {
        match self.nodes.get_mut(node.0 as usize) {
            Some(host) if host.status == from => {
                host.status = to;
                true
            }
            _ => false,
        }
    }

    fn restart(&mut self, node: NodeId) {
        if self.set_status_from(node, NodeStatus::Crashed, NodeStatus::Running) {
            self.nodes[node.0 as usize].crash_kind = None;
            Handle::current().restart(self.madsim_id(node));
        }
    }

    /// Marks a node dead, as `World::kill`, and kills its madsim node: its tasks (timers,
    /// inbox, messages it had not sent yet) and its socket are gone.
    fn kill(&mut self, node: NodeId, status: NodeStatus) -> bool {
        let Some(host) = self.nodes.get_mut(node.0 as usize) else {
            return false;
        };
        let was_alive = host.status.is_alive();
        if host.status != NodeStatus::Removed {
            host.status = status;
        }
        host.timers.clear();
        host.early_inputs.clear();
        if was_alive {
            Handle::current().kill(host.madsim_id);
            host.endpoint = None;
            self.links_of_dead(node);
        }
        if was_alive && status == NodeStatus::Removed {
            self.reset_peers(node);
        }
        was_alive
    }

    /// The FIFO bookkeeping of a dead node's links, both ways.
    fn links_of_dead(&mut self, dead: NodeId) {
        let mut receivers = Vec::new();
        for ((from, to), link) in &mut self.links {
            if *from == dead {
                link.sender_died();
                receivers.push(*to);
            }
            if *to == dead {
                link.receiver_died();
            }
        }
        for to in receivers {
            self.wake_receiver(to);
        }
    }

    fn crash(&mut self, node: NodeId, kind: CrashKind) {
        let note = EventKind::Command(CommandNote::Crash(kind));
        if !self.kill(node, NodeStatus::Crashed) {
            let event = self.event(Some(node), note);
            return self.record(event);
        }
        self.nodes[node.0 as usize].crash_kind = Some(kind);
        if kind == CrashKind::Crash {
            self.reset_peers(node);
        }
        // A dead process sends nothing and sets no timers: only its notes are kept.
        self.dispatch(node, note, false, |a, out| a.on_crash(kind, out));
    }

    /// As `World::input`: a running node handles it now (or, still starting, right after its
    /// start), a paused one when it resumes (a task on its paused madsim node), a dead one
    /// ignores it.
    pub(super) fn input(&mut self, node: NodeId, input: A::Input) {
        let kind = EventKind::Input(input.clone());
        let me = self.me.clone();
        let Some(host) = self.nodes.get_mut(node.0 as usize) else {
            return;
        };
        match host.status {
            NodeStatus::Running if host.endpoint.is_none() => host.early_inputs.push(input),
            NodeStatus::Running => {
                self.dispatch(node, kind, true, |a, out| a.on_input(input, out));
            }
            NodeStatus::Paused => {
                spawn_on(host, async move {
                    if let Some(shared) = me.upgrade() {
                        lock(&shared).input(node, input);
                    }
                });
            }
            NodeStatus::Crashed | NodeStatus::Removed => {
                let event = self.event(Some(node), kind);
                self.record(event);
            }
        }
    }
}
