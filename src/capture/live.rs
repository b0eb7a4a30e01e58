//! Live capture from a network interface through libpcap, as tcpdump does it: immediate mode (so
//! a finding is not held back by buffering), a short read timeout (so the loop can stop on a
//! signal or a deadline), the BPF filter applied in the kernel, an optional evidence savefile,
//! and libpcap's received/dropped counters.
//!
//! Every packet read is written to the savefile before it is handed on, so the packet numbers a
//! finding cites are the numbers of that file: `callaudit audit FILE` later gives the same
//! findings.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use pcap::{Active, Capture, Device, Savefile};
use serde::Serialize;

use super::{CaptureError, CapturedPacket, LinkType, Timestamp};

/// libpcap's read timeout. It is not relied on to return (with immediate mode on Linux a read
/// can wait indefinitely for a packet), so the handle is also made non-blocking and an idle
/// read sleeps `IDLE_SLEEP` before the caller checks its deadline and signals again.
const READ_TIMEOUT_MS: i32 = 100;
const IDLE_SLEEP: std::time::Duration = std::time::Duration::from_millis(2);
/// The kernel buffer: room for bursts (a video call's keyframe, a busy loopback) while the
/// pipeline catches up, so that the kernel does not drop packets. libpcap's default is 2 MiB.
const CAPTURE_BUFFER_BYTES: i32 = 16 << 20;

pub struct LiveOptions<'a> {
    /// The interface; `None` picks libpcap's default, as tcpdump does.
    pub interface: Option<&'a str>,
    pub filter: Option<&'a str>,
    pub snaplen: i32,
    pub promiscuous: bool,
    pub save: Option<&'a Path>,
}

pub enum LiveRead<'a> {
    Packet(CapturedPacket<'a>),
    /// Nothing arrived within the read timeout.
    Idle,
}

/// libpcap's counters for a live capture.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LiveStats {
    pub received: u32,
    /// Dropped because the buffer was full: the capture fell behind.
    pub dropped: u32,
    /// Dropped by the interface or its driver.
    pub interface_dropped: u32,
}

pub struct LiveSource {
    capture: Capture<Active>,
    savefile: Option<Savefile>,
    link_type: LinkType,
    interface: String,
    packets_read: u64,
}

impl LiveSource {
    pub fn open(options: &LiveOptions<'_>) -> Result<LiveSource, CaptureError> {
        let interface = match options.interface {
            Some(name) => name.to_string(),
            None => default_interface().ok_or_else(|| CaptureError {
                path: PathBuf::from("(default interface)"),
                problem: "libpcap finds no interface to capture on; name one with -i".into(),
            })?,
        };
        let fail = |problem: String| CaptureError {
            path: PathBuf::from(&interface),
            problem,
        };
        let capture = Capture::from_device(interface.as_str())
            .and_then(|c| {
                c.promisc(options.promiscuous)
                    .snaplen(options.snaplen)
                    .immediate_mode(true)
                    .buffer_size(CAPTURE_BUFFER_BYTES)
                    .timeout(READ_TIMEOUT_MS)
                    .open()
            })
            .and_then(|c| c.setnonblock())
            .map_err(|e| fail(open_problem(&e)))?;
        let mut capture = capture;
        if let Some(expression) = options.filter {
            capture
                .filter(expression, true)
                .map_err(|e| fail(format!("bad --filter {expression:?}: {e}")))?;
        }
        let link_type = LinkType(capture.get_datalink().0);
        if !link_type.is_supported() {
            return Err(fail(format!("unsupported link type {link_type}")));
        }
        let savefile = match options.save {
            Some(path) => Some(capture.savefile(path).map_err(|e| CaptureError {
                path: path.to_path_buf(),
                problem: format!("cannot write the capture file: {e}"),
            })?),
            None => None,
        };
        Ok(LiveSource {
            capture,
            savefile,
            link_type,
            interface,
            packets_read: 0,
        })
    }

    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    pub fn interface(&self) -> &str {
        &self.interface
    }

    pub fn packets_read(&self) -> u64 {
        self.packets_read
    }

    /// The next packet, or `Idle` after the read timeout. `Err` when the device fails (e.g. it
    /// went down).
    pub fn read(&mut self) -> Result<LiveRead<'_>, String> {
        let packet = match self.capture.next_packet() {
            Ok(packet) => packet,
            Err(pcap::Error::TimeoutExpired) => {
                std::thread::sleep(IDLE_SLEEP);
                return Ok(LiveRead::Idle);
            }
            Err(e) => return Err(e.to_string()),
        };
        self.packets_read += 1;
        if let Some(savefile) = &mut self.savefile {
            savefile.write(&packet);
        }
        let header = packet.header;
        Ok(LiveRead::Packet(CapturedPacket {
            number: self.packets_read,
            time: Timestamp::from_timeval(header.ts.tv_sec, header.ts.tv_usec),
            data: packet.data,
            original_len: header.len,
        }))
    }

    pub fn stats(&mut self) -> LiveStats {
        self.capture
            .stats()
            .map(|s| LiveStats {
                received: s.received,
                dropped: s.dropped,
                interface_dropped: s.if_dropped,
            })
            .unwrap_or_default()
    }

    /// Writes what the savefile has buffered, so the evidence on disk is complete.
    pub fn flush(&mut self) {
        if let Some(savefile) = &mut self.savefile {
            // A failed flush surfaces again when the file is closed; nothing better to do here.
            let _ = savefile.flush();
        }
    }
}

/// What to tell a user whose capture was refused, for their OS.
fn open_problem(error: &pcap::Error) -> String {
    let text = error.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        let binary = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "callaudit".into());
        let fix = if cfg!(target_os = "macos") {
            "run it with sudo, or make /dev/bpf* readable by your user (Wireshark's ChmodBPF does this)".to_string()
        } else {
            format!(
                "run it with sudo, or grant the binary capture rights once: \
                 sudo setcap cap_net_raw,cap_net_admin=eip {binary}"
            )
        };
        format!("no permission to capture ({text}); {fix}")
    } else if lower.contains("no such device") || lower.contains("doesn't exist") {
        format!("no such interface ({text}); `callaudit interfaces` lists them")
    } else {
        text
    }
}

/// An interface libpcap can capture on.
#[derive(Debug, Clone, Serialize)]
pub struct Interface {
    pub name: String,
    pub description: Option<String>,
    pub addresses: Vec<IpAddr>,
    pub up: bool,
    pub running: bool,
    pub loopback: bool,
    /// The one `live` picks without `-i` (libpcap's choice, as tcpdump's).
    pub default: bool,
}

/// The interfaces libpcap sees.
pub fn interfaces() -> Result<Vec<Interface>, String> {
    let default = default_interface();
    let devices = Device::list().map_err(|e| format!("libpcap cannot list interfaces: {e}"))?;
    Ok(devices
        .into_iter()
        .map(|device| Interface {
            default: default.as_deref() == Some(device.name.as_str()),
            up: device.flags.is_up(),
            running: device.flags.is_running(),
            loopback: device.flags.is_loopback(),
            addresses: device.addresses.iter().map(|a| a.addr).collect(),
            description: device.desc,
            name: device.name,
        })
        .collect())
}

/// libpcap's default capture device.
pub fn default_interface() -> Option<String> {
    Device::lookup().ok().flatten().map(|d| d.name)
}

/// When started through sudo, gives up root once the capture handle is open, as tcpdump does:
/// the rest of the run (parsing packets from the network) runs as the user who called sudo.
/// Returns the user switched to.
pub fn drop_privileges() -> Result<Option<String>, String> {
    use nix::unistd::{getuid, setgid, setgroups, setuid, Gid, Uid};
    if !getuid().is_root() {
        return Ok(None);
    }
    let id = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    let (Some(uid), Some(gid)) = (id("SUDO_UID"), id("SUDO_GID")) else {
        return Ok(None);
    };
    if uid == 0 {
        return Ok(None);
    }
    setgroups(&[Gid::from_raw(gid)])
        .map_err(|e| format!("cannot drop supplementary groups: {e}"))?;
    setgid(Gid::from_raw(gid)).map_err(|e| format!("cannot switch to group {gid}: {e}"))?;
    setuid(Uid::from_raw(uid)).map_err(|e| format!("cannot switch to user {uid}: {e}"))?;
    Ok(Some(
        std::env::var("SUDO_USER").unwrap_or_else(|_| uid.to_string()),
    ))
}
