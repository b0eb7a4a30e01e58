use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::decode::TcpSegment;

fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn udp(src: (IpAddr, u16), dst: (IpAddr, u16)) -> DecodedPacket<'static> {
    DecodedPacket {
        src: src.0,
        dst: dst.0,
        src_port: src.1,
        dst_port: dst.1,
        transport: Transport::Udp,
        tcp: None,
        payload: b"",
        ip_len: 100,
    }
}

fn tcp(src: (IpAddr, u16), dst: (IpAddr, u16), syn: bool, ack: bool) -> DecodedPacket<'static> {
    DecodedPacket {
        transport: Transport::Tcp,
        tcp: Some(TcpSegment {
            sequence: 1,
            syn,
            ack,
            fin: false,
            rst: false,
        }),
        ..udp(src, dst)
    }
}

fn t(secs: i64) -> Timestamp {
    Timestamp { secs, micros: 0 }
}

fn observe(
    table: &mut FlowTable<()>,
    packet: &DecodedPacket<'_>,
    n: u64,
) -> (Endpoint, Endpoint, Orientation, Direction) {
    let (flow, direction) = table.observe(packet, n, t(n as i64), |_, _, _| ());
    (flow.client, flow.server, flow.orientation, direction)
}

#[test]
fn both_directions_share_one_flow_with_separate_counters() {
    let mut table = FlowTable::default();
    let client = (ip(192, 168, 1, 20), 50000);
    let server = (ip(109, 94, 160, 99), 8801);
    observe(&mut table, &udp(client, server), 1);
    observe(&mut table, &udp(server, client), 2);
    observe(&mut table, &udp(client, server), 3);
    assert_eq!(table.len(), 1);
    let flows = table.into_flows();
    let flow = &flows[0];
    assert_eq!(
        flow.counters[Direction::ToServer.index()],
        Counters {
            packets: 2,
            bytes: 200
        }
    );
    assert_eq!(
        flow.counters[Direction::ToClient.index()],
        Counters {
            packets: 1,
            bytes: 100
        }
    );
    assert_eq!(
        (flow.first_seen, flow.last_seen, flow.first_packet),
        (t(1), t(3), 1)
    );
    assert_eq!(flow.packets(), 3);
}

#[test]
fn tcp_syn_decides_even_against_ports() {
    let mut table = FlowTable::default();
    // A SYN from port 443 to a high port: unusual, but the SYN is the stronger evidence.
    let (client, server, orientation, direction) = observe(
        &mut table,
        &tcp((ip(10, 0, 0, 1), 443), (ip(8, 8, 8, 8), 55555), true, false),
        1,
    );
    assert_eq!((client.port, server.port), (443, 55555));
    assert_eq!(orientation, Orientation::TcpSyn);
    assert_eq!(direction, Direction::ToServer);

    // Capture started mid-handshake: the SYN/ACK's sender is the server.
    let (client, server, _, direction) = observe(
        &mut table,
        &tcp(
            (ip(52, 81, 151, 250), 443),
            (ip(192, 168, 1, 20), 40000),
            true,
            true,
        ),
        2,
    );
    assert_eq!((client.port, server.port), (40000, 443));
    assert_eq!(direction, Direction::ToClient);
}

#[test]
fn service_port_beats_first_sender() {
    let mut table = FlowTable::default();
    // The server speaks first (capture started mid-call).
    let (client, server, orientation, direction) = observe(
        &mut table,
        &udp((ip(109, 94, 160, 99), 8801), (ip(192, 168, 1, 117), 58327)),
        1,
    );
    assert_eq!(
        server,
        Endpoint {
            ip: ip(109, 94, 160, 99),
            port: 8801
        }
    );
    assert_eq!(client.port, 58327);
    assert_eq!(orientation, Orientation::ServicePort);
    assert_eq!(direction, Direction::ToClient);
}

#[test]
fn two_service_ports_pick_the_lower() {
    let mut table = FlowTable::default();
    let (_, server, orientation, _) = observe(
        &mut table,
        &udp((ip(10, 0, 0, 1), 3478), (ip(10, 0, 0, 2), 53)),
        1,
    );
    assert_eq!((server.port, orientation), (53, Orientation::ServicePort));
}

#[test]
fn private_end_is_the_client_when_ports_say_nothing() {
    let mut table = FlowTable::default();
    let (client, server, orientation, _) = observe(
        &mut table,
        &udp((ip(74, 125, 250, 1), 19000), (ip(100, 64, 3, 3), 40000)),
        1,
    );
    assert_eq!(client.ip, ip(100, 64, 3, 3));
    assert_eq!(server.ip, ip(74, 125, 250, 1));
    assert_eq!(orientation, Orientation::AddressScope);
}

#[test]
fn first_sender_is_the_last_resort() {
    let mut table = FlowTable::default();
    let (client, _, orientation, _) = observe(
        &mut table,
        &udp((ip(1, 1, 1, 1), 40000), (ip(9, 9, 9, 9), 50000)),
        1,
    );
    assert_eq!(client.ip, ip(1, 1, 1, 1));
    assert_eq!(orientation, Orientation::FirstSender);
}

#[test]
fn same_addresses_different_transport_are_different_flows() {
    let mut table = FlowTable::default();
    let a = (ip(10, 0, 0, 1), 40000);
    let b = (ip(8, 8, 8, 8), 443);
    observe(&mut table, &udp(a, b), 1);
    observe(&mut table, &tcp(a, b, false, true), 2);
    assert_eq!(table.len(), 2);
}

#[test]
fn timestamps_may_go_backwards() {
    let mut table = FlowTable::default();
    let a = (ip(10, 0, 0, 1), 40000);
    let b = (ip(8, 8, 8, 8), 443);
    table.observe(&udp(a, b), 1, t(100), |_, _, _| ());
    table.observe(&udp(b, a), 2, t(5), |_, _, _| ());
    let flows = table.into_flows();
    assert_eq!((flows[0].first_seen, flows[0].last_seen), (t(5), t(100)));
}

#[test]
fn endpoint_display_brackets_ipv6() {
    let v6 = Endpoint {
        ip: "2001:db8::1".parse().unwrap(),
        port: 443,
    };
    assert_eq!(v6.to_string(), "[2001:db8::1]:443");
    let v4 = Endpoint {
        ip: ip(1, 2, 3, 4),
        port: 80,
    };
    assert_eq!(v4.to_string(), "1.2.3.4:80");
}

// ---------------------------------------------------------------- the flow cap

/// A UDP packet of flow `i`: client 10.0.x.y:40000+ to a public server on 443.
fn flow_packet(i: u32) -> DecodedPacket<'static> {
    let [_, _, b, c] = i.to_be_bytes();
    udp(
        (ip(10, 0, b, c), 40_000 + (i % 20_000) as u16),
        (ip(203, 0, 113, 7), 443),
    )
}

fn observe_number(table: &mut FlowTable<u32>, packet: &DecodedPacket<'_>, n: u64) -> usize {
    let (flow, _) = table.observe(packet, n, t(n as i64), |_, _, _| n as u32);
    flow.number
}

/// The index and the flow vector agree: every live flow is found by its key, at its slot.
fn assert_index_consistent<S>(table: &FlowTable<S>) {
    assert_eq!(table.index.len(), table.flows.len());
    for (slot, flow) in table.flows.iter().enumerate() {
        let hash = table.hasher.hash_one(flow.key());
        let found = table
            .index
            .find(hash, |entry| table.flows[entry].key() == flow.key());
        assert_eq!(found, Some(slot));
    }
    assert!(
        table.flows.windows(2).all(|w| w[0].number < w[1].number),
        "creation order kept"
    );
}

#[test]
fn a_full_table_evicts_the_least_recently_seen_flow() {
    let mut table = FlowTable::with_max_flows(4);
    for i in 0..4 {
        assert_eq!(
            observe_number(&mut table, &flow_packet(i), u64::from(i) + 1),
            i as usize
        );
    }
    // Flow 0 speaks again, so flow 1 is now the least recently seen.
    assert_eq!(observe_number(&mut table, &flow_packet(0), 5), 0);
    assert!(table.take_evicted().is_empty());
    assert_eq!(table.evicted(), 0);

    assert_eq!(observe_number(&mut table, &flow_packet(4), 6), 4);
    assert_eq!(table.len(), 4);
    assert_eq!(table.evicted(), 1);
    let evicted = table.take_evicted();
    assert_eq!(evicted.len(), 1);
    assert_eq!(evicted[0].number, 1);
    assert_eq!(evicted[0].state, 2, "the flow keeps its state");
    assert_eq!((evicted[0].first_packet, evicted[0].last_packet), (2, 2));
    assert!(table.take_evicted().is_empty(), "taken once");
    assert_index_consistent(&table);

    // Flows that stayed keep their number and state; an evicted 5-tuple starts a new flow.
    assert_eq!(observe_number(&mut table, &flow_packet(0), 7), 0);
    assert_eq!(table.get_by_number(3).map(|f| f.state), Some(4));
    assert!(table.get_by_number(1).is_none());
    assert_eq!(observe_number(&mut table, &flow_packet(1), 8), 5);
    assert_eq!(table.created(), 6);
    assert_eq!(table.evicted(), 2, "flow 2 made room for it");
    assert_eq!(table.take_evicted()[0].number, 2);
    assert_index_consistent(&table);
}

#[test]
fn the_table_never_holds_more_than_its_cap() {
    const CAP: usize = 64;
    let mut table = FlowTable::with_max_flows(CAP);
    let mut taken = Vec::new();
    // Ten thousand flows, one packet each, with every tenth packet going to flow 0, which
    // therefore is never the least recently seen.
    let mut n = 0;
    for i in 0..10_000 {
        n += 1;
        observe_number(&mut table, &flow_packet(i), n);
        if i % 10 == 0 {
            n += 1;
            assert_eq!(observe_number(&mut table, &flow_packet(0), n), 0);
        }
        assert!(table.len() <= CAP);
        if i % 1000 == 0 {
            taken.extend(table.take_evicted().into_iter().map(|f| f.number));
        }
    }
    assert!(table.index.len() <= CAP && table.flows.capacity() < 2 * CAP + 8);
    assert_index_consistent(&table);
    assert_eq!(table.created(), 10_000);
    assert_eq!(table.evicted(), 10_000 - table.len());
    assert!(table.get_by_number(0).is_some(), "the busy flow stays");

    // Evicted flows not taken yet come back with the live ones, in creation order: every flow
    // ever created exactly once.
    let rest: Vec<usize> = table.into_flows().into_iter().map(|f| f.number).collect();
    assert!(rest.windows(2).all(|w| w[0] < w[1]));
    taken.extend(rest);
    taken.sort_unstable();
    assert_eq!(taken, (0..10_000).collect::<Vec<_>>());
}

#[test]
fn evictions_come_in_batches_of_an_eighth_of_the_cap() {
    let mut table = FlowTable::with_max_flows(80);
    for i in 0..81 {
        observe_number(&mut table, &flow_packet(i), u64::from(i) + 1);
    }
    // The 81st flow found the table full: the ten least recently seen made room.
    assert_eq!(table.evicted(), 80 / EVICTION_BATCH_DIVISOR);
    let numbers: Vec<usize> = table.take_evicted().iter().map(|f| f.number).collect();
    assert_eq!(numbers, (0..10).collect::<Vec<_>>());
    assert_eq!(table.len(), 71);
    assert_index_consistent(&table);
}

#[test]
fn ties_in_recency_evict_the_older_flow_first() {
    // Numbers need not grow (a caller may pass anything): the flow number breaks ties.
    let mut table = FlowTable::with_max_flows(2);
    observe_number(&mut table, &flow_packet(0), 7);
    observe_number(&mut table, &flow_packet(1), 7);
    observe_number(&mut table, &flow_packet(2), 7);
    assert_eq!(table.take_evicted()[0].number, 0);
}

#[test]
fn a_cap_of_zero_is_one_and_the_default_is_large() {
    let mut table = FlowTable::with_max_flows(0);
    assert_eq!(table.max_flows(), 1);
    observe_number(&mut table, &flow_packet(0), 1);
    observe_number(&mut table, &flow_packet(1), 2);
    assert_eq!((table.len(), table.evicted()), (1, 1));
    assert_eq!(FlowTable::<()>::default().max_flows(), DEFAULT_MAX_FLOWS);
}

#[test]
fn idle_eviction_is_not_counted_as_cap_eviction() {
    let mut table = FlowTable::with_max_flows(8);
    observe_number(&mut table, &flow_packet(0), 1);
    observe_number(&mut table, &flow_packet(1), 100);
    let idle = table.evict_idle(t(100), 10);
    assert_eq!(idle.len(), 1);
    assert_eq!(table.evicted(), 0);
    assert_index_consistent(&table);
}
