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
