//! Classic pcap files, read here rather than through libpcap.
//!
//! libpcap reads a savefile through stdio: a 4 KiB `read` per page of file and two `fread`
//! copies per record. On a 1 GB capture that was over a third of callaudit's time. This reader
//! fills a 256 KiB buffer with large reads and hands out records in place, without copying.
//! It handles exactly the classic format (pcap-savefile(5)): the four magic numbers —
//! microsecond or nanosecond timestamps, either byte order — and versions 2.0–2.4. Anything else
//! (pcapng, the modified "Kuznetzov" format, link types with FCS bits, other versions) is left
//! to libpcap, so the two readers never disagree about what a file is; error messages for
//! damaged records are worded as libpcap words them.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::{LinkType, Timestamp};

/// A record larger than this is damage, not a packet: libpcap's own ceiling
/// (`MAXIMUM_SNAPLEN`), which no link type exceeds.
pub const MAX_RECORD: usize = 262_144;
const RECORD_HEADER: usize = 16;
const FILE_HEADER: usize = 24;
/// Large enough that `read` calls are rare, small enough to stay in the CPU's L2 cache.
const BUFFER: usize = 256 * 1024;

/// One record, borrowed from the reader's buffer until the next call.
pub struct Record<'a> {
    pub time: Timestamp,
    pub data: &'a [u8],
    pub original_len: u32,
}

pub struct Savefile {
    file: File,
    buffer: Vec<u8>,
    /// Unread bytes are `buffer[start..end]`.
    start: usize,
    end: usize,
    at_end_of_file: bool,
    swapped: bool,
    nanoseconds: bool,
    /// The file's snapshot length as libpcap uses it: records longer than it are cut to it.
    snaplen: usize,
    link_type: LinkType,
}

impl Savefile {
    /// `Ok(None)` when the file is not a classic pcap file this reader handles.
    pub fn open(path: &Path) -> io::Result<Option<Savefile>> {
        let mut file = File::open(path)?;
        let mut header = [0u8; FILE_HEADER];
        let mut got = 0;
        while got < FILE_HEADER {
            match file.read(&mut header[got..])? {
                0 => return Ok(None),
                n => got += n,
            }
        }
        let Some((swapped, nanoseconds)) = magic(&header[..4]) else {
            return Ok(None);
        };
        let u16_at = |at: usize| {
            let bytes = [header[at], header[at + 1]];
            if swapped {
                u16::from_be_bytes(bytes)
            } else {
                u16::from_le_bytes(bytes)
            }
        };
        let link_type = word(&header[20..24], swapped);
        // Versions 2.0 to 2.4 only, and a plain link type (no FCS-length bits): else libpcap
        // decides. libpcap refuses minor versions above 4 ("unsupported pcap savefile version"),
        // so a file claiming 2.5 must not be read here either: the torture corpus's bit flips
        // in the version field found this reader accepting what libpcap rejects.
        if u16_at(4) != 2 || u16_at(6) > 4 || link_type > 0xffff {
            return Ok(None);
        }
        let snaplen = match word(&header[16..20], swapped) as usize {
            0 => MAX_RECORD,
            n => n.min(MAX_RECORD),
        };
        Ok(Some(Savefile {
            file,
            snaplen,
            buffer: vec![0; BUFFER],
            start: 0,
            end: 0,
            at_end_of_file: false,
            swapped,
            nanoseconds,
            link_type: LinkType(link_type as i32),
        }))
    }

    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    /// The next record; `Ok(None)` at a clean end of file; `Err` with libpcap's wording when
    /// the file is damaged (every record before the damage has been returned).
    ///
    /// Inlined into [`super::FileSource::read`], and that into the read loop: as calls, the
    /// two returned their record through memory and spent a fifth of their instructions on
    /// entry and exit (callgrind: 390 against 410 M instructions for the first 100 MB of the
    /// fixture file, and 0.52 against 0.56 s for the 1 GB file, medians of 11 interleaved runs).
    #[inline]
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, String> {
        if !self.fill(RECORD_HEADER).map_err(|e| e.to_string())? {
            return match self.end - self.start {
                0 => Ok(None),
                got => Err(format!(
                    "truncated dump file; tried to read {RECORD_HEADER} header bytes, only got {got}"
                )),
            };
        }
        let mut header = [0; RECORD_HEADER];
        header.copy_from_slice(&self.buffer[self.start..self.start + RECORD_HEADER]);
        let [seconds, fraction, captured, original_len] = record_words(&header, self.swapped);
        let captured = captured as usize;
        if captured > MAX_RECORD {
            return Err(format!(
                "invalid packet capture length {captured}, bigger than snaplen of {}",
                self.snaplen
            ));
        }
        if !self
            .fill(RECORD_HEADER + captured)
            .map_err(|e| e.to_string())?
        {
            let got = self.end - self.start - RECORD_HEADER;
            // Property test fix (generated_files_round_trip_and_truncate): libpcap reads a
            // record longer than the snaplen in two steps, the first snaplen bytes and then the
            // rest to discard, and names the step that came up short.
            let tried = if captured > self.snaplen && got < self.snaplen {
                self.snaplen
            } else {
                captured
            };
            return Err(format!(
                "truncated dump file; tried to read {tried} captured bytes, only got {got}"
            ));
        }
        let micros = if self.nanoseconds {
            fraction / 1000
        } else {
            fraction
        };
        let data_start = self.start + RECORD_HEADER;
        self.start = data_start + captured;
        // Like libpcap, a record longer than the file's snaplen is delivered cut to it.
        let kept = captured.min(self.snaplen);
        Ok(Some(Record {
            time: Timestamp::from_timeval(i64::from(seconds), i64::from(micros)),
            data: &self.buffer[data_start..data_start + kept],
            original_len,
        }))
    }

    /// Makes at least `wanted` unread bytes available; `false` if the file ends first. Inlined:
    /// it runs twice per packet and nearly always finds the bytes already there, so a call's
    /// entry and exit cost more than the check.
    #[inline]
    fn fill(&mut self, wanted: usize) -> io::Result<bool> {
        if self.end - self.start >= wanted {
            return Ok(true);
        }
        self.refill(wanted)
    }

    /// [`Savefile::fill`]'s read, once per buffer (a few hundred packets).
    #[inline(never)]
    fn refill(&mut self, wanted: usize) -> io::Result<bool> {
        // Keep the unread tail, move it to the front, and read behind it.
        self.buffer.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buffer.len() < wanted {
            self.buffer.resize(wanted, 0);
        }
        while self.end < wanted && !self.at_end_of_file {
            match self.file.read(&mut self.buffer[self.end..]) {
                Ok(0) => self.at_end_of_file = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end >= wanted)
    }
}

/// (byte-swapped, nanosecond timestamps) for the classic magic numbers.
fn magic(bytes: &[u8]) -> Option<(bool, bool)> {
    match u32::from_le_bytes(bytes.try_into().ok()?) {
        0xa1b2_c3d4 => Some((false, false)),
        0xa1b2_3c4d => Some((false, true)),
        0xd4c3_b2a1 => Some((true, false)),
        0x4d3c_b2a1 => Some((true, true)),
        _ => None,
    }
}

/// A record header's four words (seconds, fraction, captured and original lengths) in the
/// file's byte order: read as one and swapped together, where four calls to [`word`] branched
/// on the byte order four times per record.
#[inline]
fn record_words(header: &[u8; RECORD_HEADER], swapped: bool) -> [u32; 4] {
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let words = [word(0), word(4), word(8), word(12)];
    if swapped {
        words.map(u32::swap_bytes)
    } else {
        words
    }
}

fn word(bytes: &[u8], swapped: bool) -> u32 {
    let bytes = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if swapped {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    }
}

#[cfg(test)]
mod tests;
