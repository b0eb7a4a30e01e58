//! Process: which local program owns the socket at one end of a captured flow.
//!
//! A live capture sees packets, not programs. On Linux the kernel publishes both halves of the
//! answer in `/proc`, and a [`ProcessMap`] joins them in one pass:
//!
//! 1. `/proc/net/{tcp,tcp6,udp,udp6}` list every socket of the network namespace with its local
//!    address, port and socket inode. Addresses are the kernel's 32-bit words printed as hex in
//!    host byte order — `0100007F:1F90` is 127.0.0.1:8080 on a little-endian machine; an IPv6
//!    address is four such words. Sockets with inode 0 (TCP `TIME_WAIT`) belong to nobody and
//!    are dropped. IPv4-mapped addresses (`::ffff:a.b.c.d`, a dual-stack socket talking IPv4)
//!    are stored as the IPv4 address they stand for.
//! 2. `/proc/[pid]/fd/*` are links; a socket's reads `socket:[inode]`. Walking every process's
//!    descriptors maps inodes to pids, and `/proc/[pid]/comm` names the process.
//!
//! [`ProcessMap::owner`] tries the exact local address first, then the wildcard sockets that
//! would have received the packet: `0.0.0.0` for IPv4 and `::` for both families (Linux sockets
//! bound to `::` are dual-stack unless `IPV6_V6ONLY` is set, and `/proc` does not say which).
//! [`ProcessTracker`] wraps a map for the capture loop: a hit costs a hash lookup, and a miss
//! re-reads `/proc` at most once per interval, because new flows arrive in bursts and a snapshot
//! per packet would be far too slow.
//!
//! # Limits
//!
//! - **Races.** A socket opened and closed between two snapshots (a DNS query, a short STUN
//!   probe) is never seen, and the sockets of a process that exited before the snapshot are
//!   unknown. A cached answer can be stale if a port is closed and reused by another program
//!   within the interval.
//! - **Privileges.** Another user's `/proc/[pid]/fd` is readable only by root or with
//!   `CAP_SYS_PTRACE`; without them those sockets are listed but have no owner. Unreadable
//!   entries are skipped, never an error.
//! - **Namespaces.** `/proc/net` shows the reader's network namespace and `/proc` its pid
//!   namespace: inside a container only the container's sockets are visible, and from the host
//!   a container's sockets are not in the host's `/proc/net`.
//! - **Ambiguity.** The key is the local endpoint only. When several sockets share one (a
//!   listener and its accepted connections, `SO_REUSEPORT` groups, an ephemeral port reused
//!   towards different peers) or several processes share one socket (after `fork`), the first
//!   found — the lowest pid — is the answer.
//! - **Platforms.** Only Linux. Elsewhere [`ProcessMap::is_supported`] is false and every map is
//!   empty. macOS would need libproc (`proc_listpids`, `proc_pidinfo` with
//!   `PROC_PIDLISTFDS`/`PROC_PIDFDSOCKETINFO`, as `lsof` does), the BSDs `sysctl`
//!   `kern.file` or `sockstat`/`fstat`; both mean FFI or a child process per refresh.
//!
//! # Cost
//!
//! A snapshot reads four socket tables and lists the descriptors of every process (one
//! `readlink` per descriptor): a few milliseconds on a desktop, more on a busy server. The
//! descriptor walk stops as soon as every socket has an owner.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

/// A local program: its pid and its `comm` name (at most 15 bytes, as the kernel truncates it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    pub pid: u32,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketProtocol {
    Tcp,
    Udp,
}

/// A local socket's endpoint; `ip` is canonical (IPv4-mapped IPv6 stored as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SocketKey {
    protocol: SocketProtocol,
    ip: IpAddr,
    port: u16,
}

impl SocketKey {
    fn new(protocol: SocketProtocol, ip: IpAddr, port: u16) -> SocketKey {
        SocketKey {
            protocol,
            ip: ip.to_canonical(),
            port,
        }
    }
}

/// One row of a `/proc/net/{tcp,tcp6,udp,udp6}` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SocketEntry {
    ip: IpAddr,
    port: u16,
    inode: u64,
}

/// Which process owns which local socket, from one read of /proc (Linux). Elsewhere: empty,
/// `is_supported()` false.
#[derive(Debug, Default)]
pub struct ProcessMap {
    owners: HashMap<SocketKey, Process>,
}

impl ProcessMap {
    pub fn is_supported() -> bool {
        cfg!(target_os = "linux")
    }

    /// Reads `/proc/net/{tcp,tcp6,udp,udp6}` (local address:port → socket inode) and
    /// `/proc/[pid]/fd` (inode → pid), and `/proc/[pid]/comm` for the name. Unreadable entries
    /// (other users' processes when not root, processes that exit meanwhile) are skipped, never
    /// an error.
    pub fn snapshot() -> ProcessMap {
        if !Self::is_supported() {
            return ProcessMap::default();
        }
        Self::read_from(Path::new("/proc"))
    }

    fn read_from(proc_root: &Path) -> ProcessMap {
        let tables = [
            ("net/tcp", SocketProtocol::Tcp),
            ("net/tcp6", SocketProtocol::Tcp),
            ("net/udp", SocketProtocol::Udp),
            ("net/udp6", SocketProtocol::Udp),
        ];
        let mut sockets: HashMap<u64, Vec<SocketKey>> = HashMap::new();
        for (table, protocol) in tables {
            let Ok(text) = fs::read_to_string(proc_root.join(table)) else {
                continue;
            };
            for entry in parse_socket_table(&text) {
                sockets
                    .entry(entry.inode)
                    .or_default()
                    .push(SocketKey::new(protocol, entry.ip, entry.port));
            }
        }
        let inode_owners = find_inode_owners(proc_root, &sockets);

        let mut names: HashMap<u32, Option<String>> = HashMap::new();
        let mut owners = HashMap::new();
        // Lowest pid first, so that the answer does not depend on hash order.
        let mut by_pid: Vec<(u32, u64)> = inode_owners.into_iter().map(|(i, p)| (p, i)).collect();
        by_pid.sort_unstable();
        for (pid, inode) in by_pid {
            let name = names
                .entry(pid)
                .or_insert_with(|| read_comm(proc_root, pid))
                .clone();
            // No name: the process exited after its descriptors were read.
            let Some(name) = name else { continue };
            for key in sockets.get(&inode).into_iter().flatten() {
                owners.entry(*key).or_insert_with(|| Process {
                    pid,
                    name: name.clone(),
                });
            }
        }
        ProcessMap { owners }
    }

    /// The owner of the local socket (protocol, ip, port). A socket bound to 0.0.0.0 / :: matches
    /// any local address; IPv4-mapped IPv6 sockets (dual-stack) match IPv4 addresses.
    pub fn owner(&self, protocol: SocketProtocol, ip: IpAddr, port: u16) -> Option<&Process> {
        let ip = ip.to_canonical();
        let exact = SocketKey::new(protocol, ip, port);
        let any_v4 = SocketKey::new(protocol, IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
        let any_v6 = SocketKey::new(protocol, IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
        let candidates: &[SocketKey] = match ip {
            IpAddr::V4(_) => &[exact, any_v4, any_v6],
            IpAddr::V6(_) => &[exact, any_v6],
        };
        candidates.iter().find_map(|key| self.owners.get(key))
    }

    /// The number of local sockets with a known owner.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }
}

/// The rows of one `/proc/net` socket table; the header and malformed rows are skipped.
fn parse_socket_table(text: &str) -> impl Iterator<Item = SocketEntry> + '_ {
    text.lines().skip(1).filter_map(parse_socket_line)
}

/// One row: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode …`. The header's column
/// names do not line up with the fields (`tx_queue rx_queue` is one field), so fields are taken
/// by position.
fn parse_socket_line(line: &str) -> Option<SocketEntry> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let local = fields.get(1)?;
    let inode: u64 = fields.get(9)?.parse().ok()?;
    if inode == 0 {
        return None;
    }
    let (ip, port) = parse_address(local)?;
    Some(SocketEntry { ip, port, inode })
}

/// `0100007F:1F90` or 32 hex digits then `:port`. Each 32-bit word is printed as a host-order
/// integer, so its native-endian bytes are the address bytes in network order.
fn parse_address(text: &str) -> Option<(IpAddr, u16)> {
    let (ip_hex, port_hex) = text.split_once(':')?;
    let port = u16::from_str_radix(port_hex, 16).ok()?;
    let ip = match ip_hex.len() {
        8 => IpAddr::V4(Ipv4Addr::from(parse_word(ip_hex)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for (chunk, out) in ip_hex.as_bytes().chunks(8).zip(bytes.chunks_mut(4)) {
                out.copy_from_slice(&parse_word(std::str::from_utf8(chunk).ok()?)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some((ip, port))
}

fn parse_word(hex: &str) -> Option<[u8; 4]> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
}

/// Socket inode → the lowest pid holding a descriptor to it, for the inodes in `wanted`.
fn find_inode_owners<V>(proc_root: &Path, wanted: &HashMap<u64, V>) -> HashMap<u64, u32> {
    let mut owners = HashMap::new();
    let Ok(entries) = fs::read_dir(proc_root) else {
        return owners;
    };
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        if owners.len() == wanted.len() {
            break;
        }
        let Ok(fds) = fs::read_dir(proc_root.join(pid.to_string()).join("fd")) else {
            continue;
        };
        let mut seen = HashSet::new();
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = target.to_str().and_then(socket_inode) else {
                continue;
            };
            if wanted.contains_key(&inode) && seen.insert(inode) {
                owners.entry(inode).or_insert(pid);
            }
        }
    }
    owners
}

/// The inode in a descriptor link `socket:[12345]`.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

fn read_comm(proc_root: &Path, pid: u32) -> Option<String> {
    let comm = fs::read_to_string(proc_root.join(pid.to_string()).join("comm")).ok()?;
    Some(comm.trim_end_matches('\n').to_owned())
}

/// Caches snapshots: `lookup` re-reads /proc at most once per `min_interval` when an unknown
/// socket is asked for (new flows arrive in bursts; reading /proc per packet would be far too
/// slow).
pub struct ProcessTracker {
    min_interval: Duration,
    map: ProcessMap,
    last_read: Option<Instant>,
    read: fn() -> ProcessMap,
    reads: u64,
}

impl ProcessTracker {
    pub fn new(min_interval: Duration) -> Self {
        ProcessTracker::with_source(min_interval, ProcessMap::snapshot)
    }

    fn with_source(min_interval: Duration, read: fn() -> ProcessMap) -> Self {
        ProcessTracker {
            min_interval,
            map: ProcessMap::default(),
            last_read: None,
            read,
            reads: 0,
        }
    }

    /// The owner of the local socket, from the cached snapshot; on a miss, from a fresh one if
    /// the last was read at least `min_interval` ago.
    pub fn lookup(&mut self, protocol: SocketProtocol, ip: IpAddr, port: u16) -> Option<Process> {
        if let Some(process) = self.map.owner(protocol, ip, port) {
            return Some(process.clone());
        }
        let due = self
            .last_read
            .is_none_or(|at| at.elapsed() >= self.min_interval);
        if !due || !ProcessMap::is_supported() {
            return None;
        }
        self.map = (self.read)();
        self.last_read = Some(Instant::now());
        self.reads += 1;
        self.map.owner(protocol, ip, port).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, UdpSocket};

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn map_of(entries: &[(SocketProtocol, &str, u32, &str)]) -> ProcessMap {
        let mut owners = HashMap::new();
        for &(protocol, address, pid, name) in entries {
            let (ip, port) = parse_address(address).unwrap();
            owners.insert(
                SocketKey::new(protocol, ip, port),
                Process {
                    pid,
                    name: name.to_owned(),
                },
            );
        }
        ProcessMap { owners }
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn parses_ipv4_rows_and_skips_header_and_time_wait() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
            \x20  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0\n\
            \x20  1: 020200C0:88CA 507100CB:0050 06 00000000:00000000 03:0000157A 00000000     0        0 0 3 00000000a3784ca9\n\
            \x20  2: garbage\n";
        let rows: Vec<_> = parse_socket_table(table).collect();
        assert_eq!(
            rows,
            [SocketEntry {
                ip: LOOPBACK,
                port: 8080,
                inode: 12345
            }]
        );
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn parses_ipv6_and_ipv4_mapped_rows() {
        let loopback = "   0: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 2222 1 0000000000000000 100 0 0 10 0";
        let row = parse_socket_line(loopback).unwrap();
        assert_eq!(row.ip, IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!((row.port, row.inode), (53, 2222));

        // 2001:db8::1 port 443.
        let global = "   1: B80D0120000000000000000001000000:01BB 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 3333 2 0000000000000000 0";
        let row = parse_socket_line(global).unwrap();
        assert_eq!(row.ip, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!((row.port, row.inode), (443, 3333));

        // ::ffff:192.168.1.10 port 5000, as a dual-stack socket appears in tcp6.
        let mapped = "   2: 0000000000000000FFFF00000A01A8C0:1388 0000000000000000FFFF00000101A8C0:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 4444 1 0000000000000000 20 4 30 10 -1";
        let row = parse_socket_line(mapped).unwrap();
        assert_eq!(row.ip, "::ffff:192.168.1.10".parse::<IpAddr>().unwrap());
        assert_eq!(
            SocketKey::new(SocketProtocol::Tcp, row.ip, row.port).ip,
            IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10))
        );
    }

    #[test]
    fn rejects_malformed_addresses() {
        for text in [
            "",
            "0100007F",
            "0100007F:",
            "0100007F:XYZ",
            "0100007:1F90",
            "+100007F:1F90",
            "0100007F:1F9000",
        ] {
            assert_eq!(parse_address(text), None, "{text:?}");
        }
        assert_eq!(socket_inode("socket:[12345]"), Some(12345));
        assert_eq!(socket_inode("pipe:[12345]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn owner_prefers_exact_then_wildcards() {
        use SocketProtocol::{Tcp, Udp};
        let map = map_of(&[
            (Udp, "0100007F:0D3D", 10, "exact"),
            (Udp, "00000000:0D3D", 11, "any4"),
            (Tcp, "00000000000000000000000000000000:0050", 12, "any6"),
            (Tcp, "0000000000000000FFFF00000A01A8C0:1388", 13, "mapped"),
            (Udp, "00000000000000000000000001000000:0035", 14, "v6"),
        ]);
        let owner = |protocol, ip: &str, port| map.owner(protocol, ip.parse().unwrap(), port);
        assert_eq!(owner(Udp, "127.0.0.1", 3389).unwrap().name, "exact");
        assert_eq!(owner(Udp, "10.0.0.2", 3389).unwrap().name, "any4");
        assert_eq!(owner(Tcp, "127.0.0.1", 3389), None);
        assert_eq!(owner(Tcp, "10.0.0.2", 80).unwrap().name, "any6");
        assert_eq!(owner(Tcp, "2001:db8::1", 80).unwrap().name, "any6");
        assert_eq!(owner(Tcp, "192.168.1.10", 5000).unwrap().name, "mapped");
        assert_eq!(owner(Tcp, "::ffff:192.168.1.10", 5000).unwrap().pid, 13);
        assert_eq!(owner(Udp, "::1", 53).unwrap().name, "v6");
        // An IPv4 wildcard does not accept IPv6 traffic.
        assert_eq!(owner(Udp, "::1", 3389), None);
        assert_eq!(map.len(), 5);
    }

    #[cfg(target_os = "linux")]
    fn own_comm() -> String {
        fs::read_to_string("/proc/self/comm")
            .unwrap()
            .trim_end()
            .to_owned()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn snapshot_finds_own_sockets() {
        let udp = UdpSocket::bind((LOOPBACK, 0)).unwrap();
        let tcp = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let map = ProcessMap::snapshot();
        assert!(ProcessMap::is_supported());
        assert!(!map.is_empty());
        let expected = Process {
            pid: std::process::id(),
            name: own_comm(),
        };
        let udp_port = udp.local_addr().unwrap().port();
        let tcp_port = tcp.local_addr().unwrap().port();
        assert_eq!(
            map.owner(SocketProtocol::Udp, LOOPBACK, udp_port),
            Some(&expected)
        );
        assert_eq!(
            map.owner(SocketProtocol::Tcp, LOOPBACK, tcp_port),
            Some(&expected)
        );
        // The same port under the other protocol is nobody's (barring a coincidence).
        let other = map.owner(SocketProtocol::Tcp, LOOPBACK, udp_port);
        assert_ne!(other.map(|p| p.pid), Some(expected.pid));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn unbound_port_has_no_owner() {
        // Bind, learn a free port, close it: nothing owns it at the snapshot.
        let port = UdpSocket::bind((LOOPBACK, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let map = ProcessMap::snapshot();
        assert_eq!(map.owner(SocketProtocol::Udp, LOOPBACK, port), None);
    }

    /// A fake `/proc`: pid 7 and 9 share one socket (after a fork), pid 8 is unreadable, pid 12
    /// exited between the descriptor walk and the `comm` read.
    #[cfg(target_os = "linux")]
    #[test]
    fn reads_a_proc_tree() {
        use std::os::unix::fs::symlink;
        let root = std::env::temp_dir().join(format!("callaudit-proc-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("net")).unwrap();
        let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        let row = |address: &str, inode: u64| {
            format!("   0: {address} 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 {inode} 1 0000000000000000 100 0 0 10 0\n")
        };
        let udp = format!(
            "{header}{}{}",
            row("0100007F:0D3D", 100),
            row("00000000:14E9", 300)
        );
        fs::write(root.join("net/udp"), udp).unwrap();
        fs::write(
            root.join("net/tcp"),
            format!("{header}{}", row("00000000:0050", 200)),
        )
        .unwrap();
        for (pid, comm, links) in [
            ("9", Some("child"), &["socket:[100]", "pipe:[5]"][..]),
            (
                "7",
                Some("parent"),
                &["/dev/null", "socket:[100]", "socket:[200]"][..],
            ),
            ("12", None, &["socket:[300]"][..]),
            ("self", Some("not-a-pid"), &["socket:[300]"][..]),
        ] {
            let fd = root.join(pid).join("fd");
            fs::create_dir_all(&fd).unwrap();
            for (n, link) in links.iter().enumerate() {
                symlink(link, fd.join(n.to_string())).unwrap();
            }
            if let Some(comm) = comm {
                fs::write(root.join(pid).join("comm"), format!("{comm}\n")).unwrap();
            }
        }
        fs::create_dir_all(root.join("8")).unwrap();

        let map = ProcessMap::read_from(&root);
        fs::remove_dir_all(&root).unwrap();
        let parent = Process {
            pid: 7,
            name: "parent".to_owned(),
        };
        assert_eq!(
            map.owner(SocketProtocol::Udp, LOOPBACK, 3389),
            Some(&parent)
        );
        assert_eq!(map.owner(SocketProtocol::Tcp, LOOPBACK, 80), Some(&parent));
        assert_eq!(map.owner(SocketProtocol::Udp, LOOPBACK, 5353), None);
        assert_eq!(map.len(), 2);
    }

    fn fake_map() -> ProcessMap {
        map_of(&[(SocketProtocol::Udp, "0100007F:0D3D", 42, "fake")])
    }

    #[test]
    fn tracker_rereads_at_most_once_per_interval() {
        let mut tracker = ProcessTracker::with_source(Duration::from_secs(3600), fake_map);
        let unknown = |t: &mut ProcessTracker| t.lookup(SocketProtocol::Tcp, LOOPBACK, 1);
        let supported = ProcessMap::is_supported();

        assert_eq!(unknown(&mut tracker), None);
        assert_eq!(tracker.reads, u64::from(supported));
        // A burst of misses within the interval reuses the snapshot.
        for _ in 0..100 {
            assert_eq!(unknown(&mut tracker), None);
        }
        assert_eq!(tracker.reads, u64::from(supported));
        if supported {
            // Hits never re-read.
            let hit = tracker.lookup(SocketProtocol::Udp, LOOPBACK, 3389);
            assert_eq!(hit.map(|p| p.pid), Some(42));
            assert_eq!(tracker.reads, 1);
            // Once the interval has passed, the next miss re-reads.
            tracker.last_read = Instant::now().checked_sub(Duration::from_secs(3601));
            assert_eq!(unknown(&mut tracker), None);
            assert_eq!(tracker.reads, 2);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn tracker_sees_new_socket_only_after_interval() {
        let mut tracker = ProcessTracker::new(Duration::from_secs(3600));
        assert_eq!(tracker.lookup(SocketProtocol::Udp, LOOPBACK, 1), None);
        let udp = UdpSocket::bind((LOOPBACK, 0)).unwrap();
        let port = udp.local_addr().unwrap().port();
        assert_eq!(tracker.lookup(SocketProtocol::Udp, LOOPBACK, port), None);

        tracker.last_read = Instant::now().checked_sub(Duration::from_secs(3601));
        let found = tracker.lookup(SocketProtocol::Udp, LOOPBACK, port);
        assert_eq!(found.map(|p| p.pid), Some(std::process::id()));
        assert_eq!(tracker.reads, 2);
    }
}
