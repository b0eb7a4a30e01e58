//! DNS responses as a source of names for server addresses (RFC 1035; AAAA: RFC 3596).
//!
//! The auditor attributes a flow to an app and a service by the name the client looked up:
//! if the client asked for `zoom.us` and the answer was `zoom.us CNAME x.cloudfront.net`,
//! `x.cloudfront.net A 1.2.3.4`, then traffic to 1.2.3.4 is traffic the client meant for
//! `zoom.us`. [`parse_response`] therefore reports every A/AAAA answer reachable from the
//! question name through the CNAME chain, labelled with the **question** name.
//!
//! # Design
//!
//! * **No heap allocation.** Names are decoded into fixed 255-byte stack buffers
//!   ([`NameBuf`]); the callback receives a `&str` borrowed from one. The CNAME chain is a
//!   fixed array of [`MAX_CHAIN`] names (about 2 KiB of stack).
//! * **Hostile input is bounded.** Compression pointers (RFC 1035 §4.1.4) must point strictly
//!   backwards — which alone makes loops impossible — and at most [`MAX_POINTER_HOPS`] are
//!   followed per name. At most [`MAX_QUESTIONS`] questions and [`MAX_ANSWERS`] answer records
//!   are read; the rest of a larger message is ignored (real responses have one question and a
//!   handful of answers).
//! * **Only the chain counts.** Answer records whose owner is not the question name or one of
//!   its CNAME targets are ignored, as a resolver would ignore them (RFC 2181 §5.4.1): an
//!   on-path party could otherwise attach any name to any address. CNAMEs may appear in any
//!   order; the chain is closed by repeated passes (at most [`MAX_CHAIN`]).
//! * **Lax.** A truncated or malformed record ends the walk; the addresses already reported
//!   stay reported. Names are compared case-insensitively (RFC 4343) by lowercasing them, and
//!   names with bytes outside printable ASCII (or a `.` inside a label) are treated as
//!   unreadable rather than escaped, since they cannot be a hostname worth attributing.
//!   The answer section is the only one read; authority and additional records are not
//!   answers to the question.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Maximum number of question entries read.
pub const MAX_QUESTIONS: usize = 4;
/// Maximum number of answer records read per pass.
pub const MAX_ANSWERS: usize = 64;
/// Maximum number of names in a CNAME chain (question name included).
pub const MAX_CHAIN: usize = 8;
/// Maximum number of compression pointers followed while reading one name.
pub const MAX_POINTER_HOPS: usize = 16;

const HEADER_LEN: usize = 12;
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// Header facts of a response that [`parse_response`] accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DnsSummary {
    pub id: u16,
    /// ANCOUNT from the header.
    pub answers: u16,
    /// Always true for a value returned by [`parse_response`]; kept so callers that also
    /// look at queries can share the type.
    pub is_response: bool,
    /// The TC bit: the answer list may be incomplete (the full one comes over TCP).
    pub truncated: bool,
    /// How many A/AAAA answers were passed to the callback.
    pub addresses_reported: u16,
}

/// A domain name in text form, lowercased, without the trailing dot, in a stack buffer.
/// The wire limit is 255 bytes (RFC 1035 §2.3.4), so the text form always fits.
#[derive(Clone, Copy)]
pub struct NameBuf {
    bytes: [u8; 255],
    len: u8,
}

impl Default for NameBuf {
    fn default() -> Self {
        Self {
            bytes: [0; 255],
            len: 0,
        }
    }
}

impl NameBuf {
    /// The name as text; empty for the root.
    pub fn as_str(&self) -> &str {
        // Only printable ASCII is ever written, so this cannot fail; fall back to "" rather
        // than panic if that invariant were ever broken.
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    fn push(&mut self, byte: u8) -> Option<()> {
        let slot = self.bytes.get_mut(usize::from(self.len))?;
        *slot = byte;
        self.len = self.len.checked_add(1)?;
        Some(())
    }
}

impl std::fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// Reads a DNS response and calls `on_answer(address, question_name)` for each A/AAAA
/// answer reached from the question name through the CNAME chain. Returns `None` unless the
/// message is a standard-query response (QR=1, OPCODE 0) with RCODE 0 (NOERROR).
pub fn parse_response<F: FnMut(IpAddr, &str)>(
    message: &[u8],
    mut on_answer: F,
) -> Option<DnsSummary> {
    let header: [u8; HEADER_LEN] = message.get(..HEADER_LEN)?.try_into().ok()?;
    let flags = u16::from_be_bytes([header[2], header[3]]);
    let is_response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    let rcode = flags & 0xf;
    if !is_response || opcode != 0 || rcode != 0 {
        return None;
    }
    let qdcount = u16::from_be_bytes([header[4], header[5]]);
    let ancount = u16::from_be_bytes([header[6], header[7]]);
    let mut summary = DnsSummary {
        id: u16::from_be_bytes([header[0], header[1]]),
        answers: ancount,
        is_response,
        truncated: flags & 0x0200 != 0,
        addresses_reported: 0,
    };

    // Question section: the first question names the chain; the others are skipped.
    let mut chain = [NameBuf::default(); MAX_CHAIN];
    let mut chain_len = 0usize;
    let mut offset = HEADER_LEN;
    for index in 0..usize::from(qdcount).min(MAX_QUESTIONS) {
        let mut name = NameBuf::default();
        let Some(after_name) = read_name(message, offset, &mut name) else {
            return Some(summary);
        };
        if index == 0 && !name.as_bytes().is_empty() {
            chain[0] = name;
            chain_len = 1;
        }
        offset = after_name.checked_add(4)?; // QTYPE, QCLASS
        if offset > message.len() {
            return Some(summary);
        }
    }
    if chain_len == 0 || usize::from(qdcount) > MAX_QUESTIONS {
        // Without a question (or with questions we did not skip) answers cannot be placed.
        return Some(summary);
    }
    let answers_start = offset;
    let answer_count = usize::from(ancount).min(MAX_ANSWERS);

    // Close the CNAME chain. Each pass can only add names, so MAX_CHAIN passes suffice.
    for _ in 0..MAX_CHAIN {
        let mut grew = false;
        walk_answers(message, answers_start, answer_count, |record| {
            if record.rtype != TYPE_CNAME || !record.class_in() || chain_len >= MAX_CHAIN {
                return;
            }
            let owner = record.owner.as_bytes();
            if !contains(&chain, chain_len, owner) {
                return;
            }
            let mut target = NameBuf::default();
            if read_name(message, record.rdata_offset, &mut target).is_none() {
                return;
            }
            let target_bytes = target.as_bytes();
            if target_bytes.is_empty() || contains(&chain, chain_len, target_bytes) {
                return;
            }
            if let Some(slot) = chain.get_mut(chain_len) {
                *slot = target;
                chain_len = chain_len.saturating_add(1);
                grew = true;
            }
        });
        if !grew {
            break;
        }
    }

    let question = chain[0];
    let question_name = question.as_str();
    let mut reported = 0u16;
    walk_answers(message, answers_start, answer_count, |record| {
        if !record.class_in() {
            return;
        }
        let address = match (record.rtype, record.rdata) {
            (TYPE_A, &[a, b, c, d]) => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            (TYPE_AAAA, rdata) => match <[u8; 16]>::try_from(rdata) {
                Ok(octets) => IpAddr::V6(Ipv6Addr::from(octets)),
                Err(_) => return,
            },
            _ => return,
        };
        let owner = record.owner.as_bytes();
        if contains(&chain, chain_len, owner) {
            on_answer(address, question_name);
            reported = reported.saturating_add(1);
        }
    });
    summary.addresses_reported = reported;
    Some(summary)
}

/// Whether `name` is among the first `len` names of `chain`.
fn contains(chain: &[NameBuf], len: usize, name: &[u8]) -> bool {
    chain.iter().take(len).any(|n| n.as_bytes() == name)
}

/// DNS over TCP prefixes each message with its length (RFC 1035 §4.2.2). Returns the first
/// message when all of it is in `payload`.
pub fn strip_tcp_length(payload: &[u8]) -> Option<&[u8]> {
    let len = usize::from(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]));
    if len < HEADER_LEN {
        return None;
    }
    payload.get(2..2usize.checked_add(len)?)
}

/// Cheap header sanity check for DNS on a port that might carry something else.
///
/// Accepts a 12-byte header with a defined OPCODE (0 query, 1 inverse, 2 status, 4 notify,
/// 5 update), the reserved Z bit clear, at least one record, at most 16 questions, and
/// record counts that could fit the message (each question needs ≥ 5 bytes, each resource
/// record ≥ 11).
pub fn looks_like_dns(payload: &[u8]) -> bool {
    let Some(&[_, _, f0, f1, q0, q1, a0, a1, n0, n1, r0, r1]) = payload.get(..HEADER_LEN) else {
        return false;
    };
    let flags = u16::from_be_bytes([f0, f1]);
    let opcode = (flags >> 11) & 0xf;
    if !matches!(opcode, 0 | 1 | 2 | 4 | 5) || flags & 0x0040 != 0 {
        return false;
    }
    let count = |hi: u8, lo: u8| usize::from(u16::from_be_bytes([hi, lo]));
    let (qd, an, ns, ar) = (count(q0, q1), count(a0, a1), count(n0, n1), count(r0, r1));
    let records = an.saturating_add(ns).saturating_add(ar);
    if qd > 16 || qd.saturating_add(records) == 0 {
        return false;
    }
    let needed = qd
        .saturating_mul(5)
        .saturating_add(records.saturating_mul(11));
    needed <= payload.len().saturating_sub(HEADER_LEN)
}

/// One answer record, borrowed from the message.
struct Record<'a> {
    owner: NameBuf,
    rtype: u16,
    class: u16,
    rdata: &'a [u8],
    rdata_offset: usize,
}

impl Record<'_> {
    fn class_in(&self) -> bool {
        // mDNS sets the top bit as "cache flush" (RFC 6762 §10.2).
        self.class & 0x7fff == CLASS_IN
    }
}

/// Calls `visit` for up to `count` well-formed records starting at `offset`; stops at the
/// first malformed or truncated one.
fn walk_answers(message: &[u8], mut offset: usize, count: usize, mut visit: impl FnMut(&Record)) {
    for _ in 0..count {
        let mut owner = NameBuf::default();
        let Some(after_name) = read_name(message, offset, &mut owner) else {
            return;
        };
        // TYPE, CLASS, TTL (unused), RDLENGTH.
        let Some(&[t0, t1, c0, c1, _, _, _, _, l0, l1]) =
            message.get(after_name..after_name.saturating_add(10))
        else {
            return;
        };
        let rtype = u16::from_be_bytes([t0, t1]);
        let class = u16::from_be_bytes([c0, c1]);
        let rdlength = usize::from(u16::from_be_bytes([l0, l1]));
        let rdata_offset = after_name.saturating_add(10);
        let rdata_end = rdata_offset.saturating_add(rdlength);
        let Some(rdata) = message.get(rdata_offset..rdata_end) else {
            return;
        };
        visit(&Record {
            owner,
            rtype,
            class,
            rdata,
            rdata_offset,
        });
        offset = rdata_end;
    }
}

/// Decodes the (possibly compressed) name at `offset` into `out` and returns the offset just
/// after the name's first occurrence (after the first pointer, if any).
pub fn read_name(message: &[u8], offset: usize, out: &mut NameBuf) -> Option<usize> {
    *out = NameBuf::default();
    let mut pos = offset;
    let mut resume_at = None;
    let mut hops = 0usize;
    // Wire length so far (length bytes + labels + root), limited to 255 by RFC 1035.
    let mut wire_len = 1usize;
    loop {
        let len_byte = *message.get(pos)?;
        match len_byte & 0xc0 {
            0x00 => {
                let label_len = usize::from(len_byte);
                if label_len == 0 {
                    return Some(resume_at.unwrap_or(pos.saturating_add(1)));
                }
                wire_len = wire_len.saturating_add(1).saturating_add(label_len);
                if wire_len > 255 {
                    return None;
                }
                let label_start = pos.saturating_add(1);
                let label_end = label_start.saturating_add(label_len);
                let label = message.get(label_start..label_end)?;
                if out.len > 0 {
                    out.push(b'.')?;
                }
                for &byte in label {
                    if !(0x21..=0x7e).contains(&byte) || byte == b'.' {
                        return None;
                    }
                    out.push(byte.to_ascii_lowercase())?;
                }
                pos = label_end;
            }
            0xc0 => {
                let low = *message.get(pos.saturating_add(1))?;
                let target = usize::from(u16::from_be_bytes([len_byte, low]) & 0x3fff);
                hops = hops.saturating_add(1);
                // Strictly backwards: a pointer can never reach itself again, so no loops.
                if hops > MAX_POINTER_HOPS || target >= pos {
                    return None;
                }
                resume_at.get_or_insert(pos.saturating_add(2));
                pos = target;
            }
            // 0x40 and 0x80 are the obsolete extended and reserved label types (RFC 6891 §5).
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::testing::hex;
    use proptest::prelude::*;

    fn answers(message: &[u8]) -> (Option<DnsSummary>, Vec<(IpAddr, String)>) {
        let mut seen = Vec::new();
        let summary = parse_response(message, |ip, name| seen.push((ip, name.to_owned())));
        (summary, seen)
    }

    // Real responses from nDPI test captures.
    /// teams.pcap frame 257: captive.apple.com.edgekey.net CNAME e7279.dsce9.akamaiedge.net,
    /// A 23.50.158.88.
    const CNAME_A: &str = "29fd818000010002000000000763617074697665056170706c6503636f6d07656467656b6579036e65740000010001c00c00050001000000d200190565373237390564736365390a616b616d616965646765c026c03b0001000100000014000417329e58";
    /// teams.pcap frame 720: AAAA through a CNAME.
    const CNAME_AAAA: &str = "f401818000010002000000000f74726f75746572322d617373652d610774726f75746572057465616d73096d6963726f736f667403636f6d00001c0001c00c0005000100000d8b001e0f74726f75746572322d617373652d6108636c6f7564617070036e657400c049001c00010000000500102a010111f1007000000000006fdd54a1";
    /// zoom.pcap frame 280: zoomfrn99mmr.zoom.us A 109.94.160.99.
    const ZOOM_MMR: &str = "1c24818000010001000000000c7a6f6f6d66726e39396d6d72047a6f6f6d0275730000010001c00c000100010000a8c000046d5ea063";

    #[test]
    fn real_cname_chain_reports_question_name() {
        let (summary, seen) = answers(&hex(CNAME_A));
        let summary = summary.unwrap();
        assert_eq!(
            (summary.id, summary.answers, summary.addresses_reported),
            (0x29fd, 2, 1)
        );
        assert_eq!(
            seen,
            vec![(
                "23.50.158.88".parse().unwrap(),
                "captive.apple.com.edgekey.net".to_owned()
            )]
        );
    }

    #[test]
    fn real_aaaa_and_plain_a() {
        let (_, seen) = answers(&hex(CNAME_AAAA));
        assert_eq!(
            seen,
            vec![(
                "2a01:111:f100:7000::6fdd:54a1".parse().unwrap(),
                "trouter2-asse-a.trouter.teams.microsoft.com".to_owned()
            )]
        );
        let (_, seen) = answers(&hex(ZOOM_MMR));
        assert_eq!(
            seen,
            vec![(
                "109.94.160.99".parse().unwrap(),
                "zoomfrn99mmr.zoom.us".to_owned()
            )]
        );
    }

    /// Builds a response: question `qname`, then `records` as (owner, type, rdata) with
    /// uncompressed names.
    fn build(qname: &str, records: &[(&str, u16, Vec<u8>)], flags: u16) -> Vec<u8> {
        build_with(qname, records, flags, false)
    }

    /// [`build`], optionally with RFC 1035 §4.1.4 compression: every name (owners, and the
    /// target of a CNAME, given in `records` as the text name) that ends in a suffix written
    /// before points to it.
    fn build_with(
        qname: &str,
        records: &[(&str, u16, Vec<u8>)],
        flags: u16,
        compress: bool,
    ) -> Vec<u8> {
        let mut m = vec![0x12, 0x34];
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&(records.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        let mut suffixes: Vec<(String, usize)> = Vec::new();
        let mut put_name = |m: &mut Vec<u8>, name: &str| {
            if !compress {
                m.extend_from_slice(&wire_name(name));
                return;
            }
            let labels: Vec<&str> = name.split('.').filter(|l| !l.is_empty()).collect();
            for i in 0..labels.len() {
                let suffix = labels[i..].join(".").to_ascii_lowercase();
                if let Some(&(_, at)) = suffixes.iter().find(|(s, _)| *s == suffix) {
                    m.extend_from_slice(&(0xc000 | at as u16).to_be_bytes());
                    return;
                }
                if m.len() < 0x3fff {
                    suffixes.push((suffix, m.len()));
                }
                m.push(labels[i].len() as u8);
                m.extend_from_slice(labels[i].as_bytes());
            }
            m.push(0);
        };
        put_name(&mut m, qname);
        m.extend_from_slice(&[0, 1, 0, 1]);
        for (owner, rtype, rdata) in records {
            put_name(&mut m, owner);
            m.extend_from_slice(&rtype.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            let length_at = m.len();
            m.extend_from_slice(&[0, 0]);
            if *rtype == TYPE_CNAME && compress {
                let mut target = NameBuf::default();
                read_name(rdata, 0, &mut target).unwrap();
                put_name(&mut m, target.as_str());
            } else {
                m.extend_from_slice(rdata);
            }
            let rdlength = (m.len() - length_at - 2) as u16;
            m[length_at..length_at + 2].copy_from_slice(&rdlength.to_be_bytes());
        }
        m
    }

    fn wire_name(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for label in name.split('.').filter(|l| !l.is_empty()) {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    }

    #[test]
    fn out_of_order_chain_and_foreign_records() {
        let m = build(
            "Zoom.US.",
            &[
                ("b.example", TYPE_A, vec![1, 2, 3, 4]),
                ("a.example", TYPE_CNAME, wire_name("b.example")),
                ("zoom.us", TYPE_CNAME, wire_name("A.example")),
                ("evil.example", TYPE_A, vec![6, 6, 6, 6]),
            ],
            0x8180,
        );
        let (summary, seen) = answers(&m);
        assert_eq!(summary.unwrap().addresses_reported, 1);
        assert_eq!(
            seen,
            vec![("1.2.3.4".parse().unwrap(), "zoom.us".to_owned())]
        );
    }

    #[test]
    fn rejects_queries_errors_and_loops() {
        let ok = build("zoom.us", &[("zoom.us", TYPE_A, vec![1, 2, 3, 4])], 0x8180);
        assert!(answers(&ok).0.is_some());
        assert!(parse_response(&build("zoom.us", &[], 0x0100), |_, _| {}).is_none());
        assert!(parse_response(&build("zoom.us", &[], 0x8183), |_, _| {}).is_none());
        // A pointer to itself, and a forward pointer.
        let mut looped = ok[..12].to_vec();
        looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(answers(&looped).1, vec![]);
        let mut name = NameBuf::default();
        assert_eq!(read_name(&[0xc0, 0x00], 0, &mut name), None);
        assert_eq!(read_name(&[0xc0, 0x02, 0x00], 0, &mut name), None);
        assert_eq!(
            read_name(&[0x01, b'a', 0x00, 0xc0, 0x00], 3, &mut name),
            Some(5)
        );
        assert_eq!(name.as_str(), "a");
        // CNAME loop: a -> b -> a. Terminates, reports the A of b.
        let m = build(
            "a.x",
            &[
                ("a.x", TYPE_CNAME, wire_name("b.x")),
                ("b.x", TYPE_CNAME, wire_name("a.x")),
                ("b.x", TYPE_A, vec![9, 9, 9, 9]),
            ],
            0x8180,
        );
        assert_eq!(
            answers(&m).1,
            vec![("9.9.9.9".parse().unwrap(), "a.x".to_owned())]
        );
    }

    #[test]
    fn tcp_framing_and_header_check() {
        let m = hex(ZOOM_MMR);
        let mut tcp = (m.len() as u16).to_be_bytes().to_vec();
        tcp.extend_from_slice(&m);
        assert_eq!(strip_tcp_length(&tcp), Some(&m[..]));
        assert_eq!(strip_tcp_length(&tcp[..tcp.len() - 1]), None);
        assert_eq!(strip_tcp_length(&[0, 3, 1, 2, 3]), None);
        assert!(looks_like_dns(&m));
        assert!(looks_like_dns(&hex(CNAME_A)));
        assert!(!looks_like_dns(&m[..11]));
        assert!(!looks_like_dns(b"GET / HTTP/1.1\r\nHost: x\r\n"));
        assert!(!looks_like_dns(&[0; 12]));
    }

    fn label() -> impl Strategy<Value = String> {
        "[a-z0-9-]{1,20}"
    }

    fn hostname() -> impl Strategy<Value = String> {
        proptest::collection::vec(label(), 1..5).prop_map(|l| l.join("."))
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_response(&bytes, |_, _| {});
            let _ = looks_like_dns(&bytes);
            let _ = strip_tcp_length(&bytes);
            let mut name = NameBuf::default();
            for offset in 0..bytes.len().min(32) {
                let _ = read_name(&bytes, offset, &mut name);
            }
        }

        #[test]
        fn arbitrary_answers_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut m = build("zoom.us", &[], 0x8180);
            m[7] = 8; // claim 8 answers, supply random bytes
            m.extend_from_slice(&tail);
            let _ = parse_response(&m, |_, _| {});
        }

        /// Names made only of labels and compression pointers aimed anywhere (backwards,
        /// forwards, at themselves, into each other): reading terminates, within the hop bound,
        /// with a name of at most 253 characters or nothing.
        #[test]
        fn compression_pointer_mazes_terminate(
            pieces in proptest::collection::vec(
                prop_oneof![
                    "[a-z]{1,63}".prop_map(|l| { let mut v = vec![l.len() as u8]; v.extend(l.bytes()); v }),
                    (0u16..0x60).prop_map(|target| (0xc000 | target).to_be_bytes().to_vec()),
                    Just(vec![0u8]),
                ],
                0..40,
            ),
        ) {
            let maze: Vec<u8> = pieces.concat();
            let mut name = NameBuf::default();
            for offset in 0..maze.len() {
                if let Some(after) = read_name(&maze, offset, &mut name) {
                    prop_assert!(after > offset && after <= maze.len());
                    prop_assert!(name.as_str().len() <= 253);
                }
            }
            let mut m = build("zoom.us", &[], 0x8180);
            m[7] = 4;
            m.extend_from_slice(&maze);
            let _ = parse_response(&m, |_, _| {});
        }

        /// A response built from arbitrary names, a CNAME chain and addresses, with or
        /// without compression, names in any case, and a record outside the chain, reports
        /// exactly the chain's addresses under the question name; every prefix of it reports
        /// some of them, in order, and nothing else.
        #[test]
        fn generated_chains_round_trip(
            qname in hostname(),
            aliases in proptest::collection::vec(hostname(), 0..4),
            v4 in proptest::collection::vec(any::<[u8; 4]>(), 0..4),
            v6 in proptest::collection::vec(any::<[u8; 16]>(), 0..3),
            compress in any::<bool>(),
            shout in any::<bool>(),
        ) {
            let on_wire = |name: &str| if shout { name.to_ascii_uppercase() } else { name.to_owned() };
            let mut records = Vec::new();
            let mut owner = qname.clone();
            for alias in &aliases {
                records.push((on_wire(&owner), TYPE_CNAME, wire_name(&on_wire(alias))));
                owner = alias.clone();
            }
            records.push(("foreign_.example".to_owned(), TYPE_A, vec![6, 6, 6, 6]));
            for a in &v4 {
                records.push((on_wire(&owner), TYPE_A, a.to_vec()));
            }
            for a in &v6 {
                records.push((on_wire(&owner), TYPE_AAAA, a.to_vec()));
            }
            let borrowed: Vec<(&str, u16, Vec<u8>)> =
                records.iter().map(|(o, t, r)| (o.as_str(), *t, r.clone())).collect();
            let m = build_with(&on_wire(&qname), &borrowed, 0x8180, compress);
            let mut name = NameBuf::default();
            prop_assert_eq!(read_name(&m, HEADER_LEN, &mut name), Some(HEADER_LEN + qname.len() + 2));
            prop_assert_eq!(name.as_str(), qname.as_str());
            let mut expected: Vec<(IpAddr, String)> = Vec::new();
            // Aliases may repeat a name (making a loop); every address is still reached.
            for a in &v4 {
                expected.push((IpAddr::from(*a), qname.clone()));
            }
            for a in &v6 {
                expected.push((IpAddr::from(*a), qname.clone()));
            }
            let (summary, seen) = answers(&m);
            let summary = summary.unwrap();
            prop_assert_eq!(summary.answers as usize, records.len());
            prop_assert_eq!(usize::from(summary.addresses_reported), expected.len());
            prop_assert_eq!(&seen, &expected);
            for cut in 0..m.len() {
                let (partial_summary, partial) = answers(&m[..cut]);
                prop_assert_eq!(partial_summary.is_some(), cut >= HEADER_LEN);
                // A subsequence of the full answer: a cut record is never read.
                let mut rest = expected.iter();
                for answer in &partial {
                    prop_assert!(rest.any(|e| e == answer), "cut {} reported {:?}", cut, answer);
                }
            }
        }
    }
}
