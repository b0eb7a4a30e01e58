//! Capture: packets from libpcap, the first stage of the pipeline.
//!
//! Live devices, pcapng files and anything unusual are read through libpcap (the `pcap` crate);
//! classic pcap files, the common case for big captures, are read by [`savefile`], which is
//! several times cheaper per packet than libpcap's stdio reads (docs/performance.md). Filters
//! are always libpcap's BPF, so every source shares one filter dialect.
//!
//! Packet numbers are the packet's position in the file (1-based, as Wireshark numbers frames),
//! *including* packets a `--filter` drops: the BPF program is applied here, in user space, rather
//! than inside libpcap, so that the number a finding cites is the one an analyst sees when they
//! open the same file in Wireshark.

mod live;
pub mod process;
mod savefile;
mod time;

pub use live::{
    default_interface, drop_privileges, interfaces, Interface, LiveOptions, LiveRead, LiveSource,
    LiveStats,
};
pub use process::Process;
pub use time::Timestamp;

use std::fmt;
use std::path::{Path, PathBuf};

use pcap::{BpfProgram, Capture, Offline};

/// A libpcap link-layer header type (`LINKTYPE_*`/`DLT_*` value), kept open so that unknown
/// values survive into error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkType(pub i32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// `DLT_RAW` as most systems define it.
    pub const DLT_RAW: LinkType = LinkType(12);
    /// `DLT_RAW` on OpenBSD.
    pub const DLT_RAW_OPENBSD: LinkType = LinkType(14);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The link types the decode stage understands.
    pub const SUPPORTED: [LinkType; 10] = [
        Self::NULL,
        Self::ETHERNET,
        Self::DLT_RAW,
        Self::DLT_RAW_OPENBSD,
        Self::RAW,
        Self::LOOP,
        Self::LINUX_SLL,
        Self::IPV4,
        Self::IPV6,
        Self::LINUX_SLL2,
    ];

    pub fn is_supported(self) -> bool {
        Self::SUPPORTED.contains(&self)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::NULL => "NULL (BSD loopback)",
            Self::ETHERNET => "EN10MB (Ethernet)",
            Self::DLT_RAW | Self::DLT_RAW_OPENBSD | Self::RAW => "RAW (IPv4/IPv6)",
            Self::LOOP => "LOOP (OpenBSD loopback)",
            Self::LINUX_SLL => "LINUX_SLL",
            Self::IPV4 => "IPV4",
            Self::IPV6 => "IPV6",
            Self::LINUX_SLL2 => "LINUX_SLL2",
            _ => "unknown",
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

/// One packet as read from the source. Borrowed from libpcap's buffer: valid until the next read.
#[derive(Debug, Clone, Copy)]
pub struct CapturedPacket<'a> {
    /// 1-based position in the source, counting packets the filter dropped.
    pub number: u64,
    pub time: Timestamp,
    /// The captured bytes (may be shorter than `original_len` when a snaplen cut the packet).
    pub data: &'a [u8],
    pub original_len: u32,
}

impl CapturedPacket<'_> {
    /// True when the capture kept fewer bytes than were on the wire (snaplen): an IP length that
    /// runs past the data is then expected, not a sign of a malformed packet.
    pub fn is_snapped(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.original_len)
    }
}

/// The outcome of one read from a [`FileSource`].
pub enum Read<'a> {
    Packet(CapturedPacket<'a>),
    /// A packet the BPF filter rejected; it still counts in packet numbers.
    FilteredOut,
    End,
}

/// Why a capture could not be opened: always names the file.
#[derive(Debug)]
pub struct CaptureError {
    pub path: PathBuf,
    pub problem: String,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for CaptureError {}

/// A saved capture (pcap or pcapng).
pub struct FileSource {
    reader: Reader,
    filter: Option<BpfProgram>,
    link_type: LinkType,
    packets_read: u64,
}

enum Reader {
    Savefile(savefile::Savefile),
    Libpcap(Capture<Offline>),
}

impl FileSource {
    /// Opens `path`, checks that its link type is one the decoder knows and compiles `filter`.
    pub fn open(path: &Path, filter: Option<&str>) -> Result<FileSource, CaptureError> {
        let fail = |problem: String| CaptureError {
            path: path.to_path_buf(),
            problem,
        };
        // libpcap's own messages for a missing file are terse; say it plainly.
        let metadata = std::fs::metadata(path).map_err(|e| fail(io_problem(&e)))?;
        if metadata.is_dir() {
            return Err(fail("is a directory, not a capture file".into()));
        }
        let reader = match savefile::Savefile::open(path).map_err(|e| fail(io_problem(&e)))? {
            Some(savefile) => Reader::Savefile(savefile),
            None => Reader::Libpcap(Capture::from_file(path).map_err(|e| fail(open_problem(&e)))?),
        };
        let link_type = match &reader {
            Reader::Savefile(savefile) => savefile.link_type(),
            Reader::Libpcap(capture) => LinkType(capture.get_datalink().0),
        };
        if !link_type.is_supported() {
            return Err(fail(format!(
                "unsupported link type {link_type}; supported: Ethernet (with 802.1Q/QinQ), \
                 Linux SLL and SLL2, raw IPv4/IPv6, BSD null/loopback"
            )));
        }
        let filter = match filter {
            Some(expression) => Some(
                Capture::dead(pcap::Linktype(link_type.0))
                    .and_then(|dead| dead.compile(expression, true))
                    .map_err(|e| {
                        fail(format!("bad --filter {expression:?}: {}", error_text(&e)))
                    })?,
            ),
            None => None,
        };
        Ok(FileSource {
            reader,
            filter,
            link_type,
            packets_read: 0,
        })
    }

    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    /// Reads the next packet. `Err` carries libpcap's message when the file is damaged
    /// (typically a truncated last record): every packet before the damage has been delivered.
    ///
    /// Inlined, with the savefile's `savefile::Savefile::next_record`: see there.
    #[inline]
    pub fn read(&mut self) -> Result<Read<'_>, String> {
        let (time, data, original_len) = match &mut self.reader {
            Reader::Savefile(savefile) => match savefile.next_record()? {
                Some(record) => (record.time, record.data, record.original_len),
                None => return Ok(Read::End),
            },
            Reader::Libpcap(capture) => match capture.next_packet() {
                Ok(packet) => {
                    let header = packet.header;
                    let time = Timestamp::from_timeval(header.ts.tv_sec, header.ts.tv_usec);
                    (time, packet.data, header.len)
                }
                Err(pcap::Error::NoMorePackets) => return Ok(Read::End),
                Err(e) => return Err(error_text(&e)),
            },
        };
        self.packets_read += 1;
        if let Some(program) = &self.filter {
            if !program.filter(data) {
                return Ok(Read::FilteredOut);
            }
        }
        Ok(Read::Packet(CapturedPacket {
            number: self.packets_read,
            time,
            data,
            original_len,
        }))
    }

    /// How many packets were read from the file so far, filtered or not.
    pub fn packets_read(&self) -> u64 {
        self.packets_read
    }
}

fn io_problem(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => error.to_string(),
    }
}

fn open_problem(error: &pcap::Error) -> String {
    let text = error_text(error);
    if text.contains("unknown file format") || text.contains("bad dump file format") {
        "not a pcap or pcapng capture (libpcap: unknown file format)".into()
    } else if text.contains("truncated dump file") || text.contains("truncated") {
        format!("not a readable capture: {text}")
    } else {
        text
    }
}

fn error_text(error: &pcap::Error) -> String {
    match error {
        pcap::Error::PcapError(message) => message.clone(),
        other => other.to_string(),
    }
}
