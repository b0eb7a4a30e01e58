//! Flow: a bidirectional table of UDP and TCP conversations keyed by the 5-tuple.
//!
//! Each flow knows which end is the client and which the server, decided once, on its first
//! packet, by the strongest evidence available then:
//!
//! 1. a TCP SYN (its sender is the client) or SYN/ACK (its sender is the server);
//! 2. a service port: one end on a well-known port (< 1024) or a port a conferencing or
//!    real-time service is assigned (STUN/TURN 3478, Zoom 8801–8810, …) and the other not;
//! 3. address scope: a private (RFC 1918, CGNAT, ULA, link-local, loopback) end talking to a
//!    public one is the client — the capturing side;
//! 4. otherwise the first sender is the client.
//!
//! The rule that decided is kept as evidence ([`Orientation`]). The table is generic over the
//! per-flow state `S` of later stages, so this stage knows nothing about them.
//!
//! # Bounded size
//!
//! The table holds at most [`FlowTable::max_flows`] flows ([`DEFAULT_MAX_FLOWS`] unless the
//! caller chooses; `--max-flows`). A new flow that would exceed it first evicts the least
//! recently seen flows (those whose last packet is earliest in the capture), a batch of
//! [`EVICTION_BATCH_DIVISOR`]th of the cap at a time so that the cost of an eviction pass
//! (one sweep over the table and a rebuilt index) is spread over many new flows. Evicted
//! flows are not dropped: the caller takes them ([`FlowTable::take_evicted`]) to finish and
//! report them, and [`FlowTable::evicted`] counts them. A later packet of an evicted 5-tuple
//! starts a new flow. On the per-packet path the cap costs one store per packet (the latest
//! packet number) and one comparison per new flow; the eviction pass itself, past the cap,
//! costs about one move of a flow and one index insertion per live flow per batch.

use std::hash::BuildHasher;
use std::net::IpAddr;

mod index;

use index::FlowIndex;

use serde::Serialize;

use crate::capture::Timestamp;
use crate::decode::{DecodedPacket, Transport};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// Which way a packet travels within its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    ToServer,
    ToClient,
}

impl Direction {
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// The rule that decided which end is the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Orientation {
    TcpSyn,
    ServicePort,
    AddressScope,
    FirstSender,
}

impl Orientation {
    /// The name reports use (the same as the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Orientation::TcpSyn => "tcp_syn",
            Orientation::ServicePort => "service_port",
            Orientation::AddressScope => "address_scope",
            Orientation::FirstSender => "first_sender",
        }
    }
}

/// Canonical 5-tuple: the lower endpoint first, so both directions find the same flow.
///
/// Addresses are kept as 128-bit numbers (an IPv4 address in the low 32 bits, told apart from
/// IPv6 by `ipv6`) rather than as `IpAddr`: the key is built, ordered, hashed and compared for
/// every packet, and integers make each of those a few instructions instead of a branch on the
/// address family per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FlowKey {
    low_ip: u128,
    high_ip: u128,
    low_port: u16,
    high_port: u16,
    transport: Transport,
    ipv6: bool,
}

impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Three writes instead of six: the small fields share one word.
        state.write_u128(self.low_ip);
        state.write_u128(self.high_ip);
        let transport = match self.transport {
            Transport::Udp => 0u64,
            Transport::Tcp => 1,
        };
        state.write_u64(
            u64::from(self.low_port)
                | u64::from(self.high_port) << 16
                | transport << 32
                | u64::from(self.ipv6) << 33,
        );
    }
}

impl FlowKey {
    fn of(packet: &DecodedPacket<'_>) -> FlowKey {
        let a = Endpoint {
            ip: packet.src,
            port: packet.src_port,
        };
        let b = Endpoint {
            ip: packet.dst,
            port: packet.dst_port,
        };
        FlowKey::of_endpoints(packet.transport, a, b)
    }

    fn of_endpoints(transport: Transport, a: Endpoint, b: Endpoint) -> FlowKey {
        let (a_ip, a_v6) = ip_bits(a.ip);
        let (b_ip, b_v6) = ip_bits(b.ip);
        let a = (a_ip, a.port);
        let b = (b_ip, b.port);
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            low_ip: low.0,
            high_ip: high.0,
            low_port: low.1,
            high_port: high.1,
            transport,
            // A packet's two addresses have one family.
            ipv6: a_v6 || b_v6,
        }
    }
}

/// An address as a number, and whether it is IPv6.
fn ip_bits(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), false),
        IpAddr::V6(v6) => (u128::from(v6), true),
    }
}

/// Flows the table holds at once unless the caller sets another cap. A flow's entry is about
/// 0.8 KB when the later stages' state is `FlowClass` (the flow, its share of the vector and
/// its index entry; docs/robustness.md), so a full table is about 0.8 GB of typical flows.
/// That is far above what real captures keep live (the benchmark's flow-dense file has about
/// 104,000 flows in all), so only hostile or very long captures reach it.
pub const DEFAULT_MAX_FLOWS: usize = 1_000_000;

/// When the table is full, the least recently seen `max_flows / EVICTION_BATCH_DIVISOR` flows
/// (at least one) are evicted together: one pass over the table per batch, so each new flow
/// pays for about this many flows' worth of the pass.
pub const EVICTION_BATCH_DIVISOR: usize = 8;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug)]
pub struct Flow<S> {
    /// Creation order within the table, from 0: stable while other flows come and go.
    pub number: usize,
    pub transport: Transport,
    pub client: Endpoint,
    pub server: Endpoint,
    pub orientation: Orientation,
    /// Indexed by [`Direction::index`].
    pub counters: [Counters; 2],
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Number of the packet that opened the flow.
    pub first_packet: u64,
    /// Number of the flow's latest packet: what "least recently seen" means when the table is
    /// full (packet numbers only grow, unlike capture clocks).
    pub last_packet: u64,
    pub state: S,
}

impl<S> Flow<S> {
    pub fn packets(&self) -> u64 {
        self.counters[0].packets + self.counters[1].packets
    }

    fn key(&self) -> FlowKey {
        FlowKey::of_endpoints(self.transport, self.client, self.server)
    }

    /// Which way the packet travels in this flow, or `None` if it belongs to another flow.
    /// Ports are compared first: they differ between most flows and are cheaper than addresses.
    fn direction_of(&self, packet: &DecodedPacket<'_>) -> Option<Direction> {
        if self.transport != packet.transport {
            return None;
        }
        let (client, server) = (&self.client, &self.server);
        if packet.src_port == client.port
            && packet.dst_port == server.port
            && packet.src == client.ip
            && packet.dst == server.ip
        {
            Some(Direction::ToServer)
        } else if packet.src_port == server.port
            && packet.dst_port == client.port
            && packet.src == server.ip
            && packet.dst == client.ip
        {
            Some(Direction::ToClient)
        } else {
            None
        }
    }
}

/// The live flows of one capture, in order of first appearance.
pub struct FlowTable<S> {
    /// The slots of `flows`, found by the hash of their [`FlowKey`] ([`index`]). An entry holds
    /// no key: the key is checked against the flow itself, which the packet needs next anyway.
    index: FlowIndex,
    /// foldhash rather than std's SipHash: the lookup runs for every packet and SipHash was a
    /// fifth of its cost. foldhash is seeded at random per process, so crafted traffic cannot
    /// aim for collisions any more than it can with SipHash's keys.
    hasher: foldhash::fast::RandomState,
    flows: Vec<Flow<S>>,
    /// Flows ever created: the next flow's `number`.
    created: usize,
    /// At most this many flows are live at once (at least 1).
    max_flows: usize,
    /// Flows evicted because the table was full, in eviction order, until the caller takes them.
    evicted_flows: Vec<Flow<S>>,
    /// Flows evicted because the table was full, ever.
    evicted: usize,
}

impl<S> Default for FlowTable<S> {
    fn default() -> Self {
        FlowTable::with_max_flows(DEFAULT_MAX_FLOWS)
    }
}

impl<S> FlowTable<S> {
    /// An empty table that holds at most `max_flows` flows (0 counts as 1; more than the
    /// index's 32-bit slots can number counts as that many, far beyond any memory).
    pub fn with_max_flows(max_flows: usize) -> Self {
        FlowTable {
            index: FlowIndex::new(),
            hasher: foldhash::fast::RandomState::default(),
            flows: Vec::new(),
            created: 0,
            max_flows: max_flows.clamp(1, u32::MAX as usize - 1),
            evicted_flows: Vec::new(),
            evicted: 0,
        }
    }

    /// The most flows the table holds at once.
    pub fn max_flows(&self) -> usize {
        self.max_flows
    }

    /// Flows evicted so far because the table was full (not those [`Self::evict_idle`] took).
    pub fn evicted(&self) -> usize {
        self.evicted
    }

    /// The flows evicted because the table was full since the last call, oldest flow number
    /// first within each batch. Cheap when there are none (no allocation).
    pub fn take_evicted(&mut self) -> Vec<Flow<S>> {
        std::mem::take(&mut self.evicted_flows)
    }

    /// Finds or creates the packet's flow, updates its counters, and returns it with the
    /// packet's direction. `new_state` builds the later stages' state for a new flow.
    pub fn observe(
        &mut self,
        packet: &DecodedPacket<'_>,
        number: u64,
        time: Timestamp,
        new_state: impl FnOnce(&Endpoint, &Endpoint, Transport) -> S,
    ) -> (&mut Flow<S>, Direction) {
        let hash = self.hasher.hash_one(FlowKey::of(packet));
        let flows = &self.flows;
        let mut direction = Direction::ToServer;
        let found = self.index.find(hash, |slot| {
            match flows.get(slot).and_then(|flow| flow.direction_of(packet)) {
                Some(found) => {
                    direction = found;
                    true
                }
                None => false,
            }
        });
        let slot = match found {
            Some(slot) => slot,
            None => {
                if self.flows.len() >= self.max_flows {
                    self.evict_least_recent();
                }
                let (client, server, orientation) = orient(packet);
                direction = if packet.src == client.ip && packet.src_port == client.port {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                };
                let state = new_state(&client, &server, packet.transport);
                self.flows.push(Flow {
                    number: self.created,
                    transport: packet.transport,
                    client,
                    server,
                    orientation,
                    counters: [Counters::default(); 2],
                    first_seen: time,
                    last_seen: time,
                    first_packet: number,
                    last_packet: number,
                    state,
                });
                self.created += 1;
                self.index_next_flow();
                self.flows.len() - 1
            }
        };
        // The slot was either just pushed or came from the index, which only holds valid slots.
        let flow = &mut self.flows[slot];
        let counters = &mut flow.counters[direction.index()];
        counters.packets += 1;
        counters.bytes += u64::from(packet.ip_len);
        // Packets nearly always come in time order: one comparison settles the common case.
        if time > flow.last_seen {
            flow.last_seen = time;
        } else if time < flow.first_seen {
            flow.first_seen = time;
        }
        flow.last_packet = number;
        (flow, direction)
    }

    /// Makes room for a new flow: moves the least recently seen flows (by their latest packet
    /// number, then by flow number, so the choice is deterministic) to `evicted_flows`.
    #[cold]
    fn evict_least_recent(&mut self) {
        let count = (self.max_flows / EVICTION_BATCH_DIVISOR)
            .max(1)
            .min(self.flows.len());
        if count == 0 {
            return;
        }
        let mut recency: Vec<(u64, usize)> = self
            .flows
            .iter()
            .map(|flow| (flow.last_packet, flow.number))
            .collect();
        let (_, &mut newest_evicted, _) = recency.select_nth_unstable(count - 1);
        drop(recency);
        // `extract_if` keeps the remaining flows in creation order, which `get_by_number`
        // relies on.
        let before = self.evicted_flows.len();
        self.evicted_flows.extend(
            self.flows
                .extract_if(.., |flow| (flow.last_packet, flow.number) <= newest_evicted),
        );
        self.evicted += self.evicted_flows.len() - before;
        self.rebuild_index();
    }

    fn rebuild_index(&mut self) {
        self.index.clear();
        for _ in 0..self.flows.len() {
            self.index_next_flow();
        }
    }

    /// Adds the first flow the index does not hold yet to it: the index holds the flows in
    /// slot order, `0..len()`, and a slot is below `max_flows`, so it fits in `u32`.
    fn index_next_flow(&mut self) {
        let slot = self.index.len();
        let flows = &self.flows;
        let hasher = &self.hasher;
        let hash_of = |slot: usize| {
            flows
                .get(slot)
                .map_or(0, |flow| hasher.hash_one(flow.key()))
        };
        self.index.push(hash_of(slot), hash_of);
    }

    /// Live flows (evicted ones not included).
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// The live flows, and the evicted ones the caller has not taken, in creation order.
    pub fn into_flows(mut self) -> Vec<Flow<S>> {
        if !self.evicted_flows.is_empty() {
            self.flows.append(&mut self.evicted_flows);
            self.flows.sort_unstable_by_key(|flow| flow.number);
        }
        self.flows
    }

    /// The live flow with this creation number.
    pub fn get_by_number(&self, number: usize) -> Option<&Flow<S>> {
        // Flows stay in creation order (eviction keeps the order), so their numbers are sorted.
        let slot = self
            .flows
            .binary_search_by_key(&number, |flow| flow.number)
            .ok()?;
        self.flows.get(slot)
    }

    /// Flows ever created, evicted ones included.
    pub fn created(&self) -> usize {
        self.created
    }

    /// Removes and returns the flows whose last packet is older than `idle_secs` before `now`,
    /// for long live captures: memory then holds only the flows still talking. A later packet
    /// of an evicted 5-tuple starts a new flow.
    pub fn evict_idle(&mut self, now: Timestamp, idle_secs: i64) -> Vec<Flow<S>> {
        let is_idle = |flow: &Flow<S>| now.secs.saturating_sub(flow.last_seen.secs) > idle_secs;
        if !self.flows.iter().any(is_idle) {
            return Vec::new();
        }
        let (idle, live): (Vec<Flow<S>>, Vec<Flow<S>>) = std::mem::take(&mut self.flows)
            .into_iter()
            .partition(is_idle);
        self.flows = live;
        self.rebuild_index();
        idle
    }
}

/// Decides client and server from a flow's first packet (see the module docs).
fn orient(packet: &DecodedPacket<'_>) -> (Endpoint, Endpoint, Orientation) {
    let sender = Endpoint {
        ip: packet.src,
        port: packet.src_port,
    };
    let receiver = Endpoint {
        ip: packet.dst,
        port: packet.dst_port,
    };
    let sender_is_client = |orientation| (sender, receiver, orientation);
    let receiver_is_client = |orientation| (receiver, sender, orientation);

    if let Some(tcp) = packet.tcp {
        if tcp.syn && !tcp.ack {
            return sender_is_client(Orientation::TcpSyn);
        }
        if tcp.syn && tcp.ack {
            return receiver_is_client(Orientation::TcpSyn);
        }
    }
    match (is_service_port(sender.port), is_service_port(receiver.port)) {
        (false, true) => return sender_is_client(Orientation::ServicePort),
        (true, false) => return receiver_is_client(Orientation::ServicePort),
        (true, true) if sender.port != receiver.port => {
            // Two service ports (e.g. DNS between resolvers): the lower one is the service.
            return if receiver.port < sender.port {
                sender_is_client(Orientation::ServicePort)
            } else {
                receiver_is_client(Orientation::ServicePort)
            };
        }
        _ => {}
    }
    match (is_local_scope(sender.ip), is_local_scope(receiver.ip)) {
        (true, false) => sender_is_client(Orientation::AddressScope),
        (false, true) => receiver_is_client(Orientation::AddressScope),
        _ => sender_is_client(Orientation::FirstSender),
    }
}

/// Ports on which the listening end is a service: well-known ports, and the registered ports of
/// real-time and conferencing services (IANA assignments and vendors' firewall documentation).
fn is_service_port(port: u16) -> bool {
    matches!(
        port,
        1..=1023
            | 1719..=1720 // H.323
            | 3478..=3481 // STUN/TURN; 3479–3481 Microsoft Teams media relays
            | 5004..=5005 // RTP/RTCP
            | 5060..=5061 // SIP, SIP over TLS
            | 5222..=5223 // XMPP
            | 5349..=5350 // TURN over TLS
            | 8801..=8810 // Zoom
            | 19302..=19309 // Google STUN/TURN
    )
}

/// Addresses on the capturing side of a network boundary.
pub fn is_local_scope(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || (a == 100 && (64..128).contains(&b)) // CGNAT, RFC 6598
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || (first & 0xfe00) == 0xfc00 // unique local, RFC 4193
                || (first & 0xffc0) == 0xfe80 // link-local
        }
    }
}

#[cfg(test)]
mod tests;
