//! `cargo xtask torture --out DIR`: the torture corpus of issue 8 ("Hostile input, zero
//! panics"). It makes several hundred broken captures from the committed fixtures. Each one comes
//! with what callaudit must do with it, and `DIR/MANIFEST.tsv` lists them all.
//!
//! Everything is deterministic. The inputs are the committed files in `fixtures/`, and every
//! random choice comes from a SplitMix64 whose seed is fixed by the case's name. The corpus is
//! not committed: the integration test `torture` (tests/torture/mod.rs) generates it under
//! `target/` and runs callaudit over every file. That test compiles this file as well (by
//! `#[path]`), so the file uses only std and `super::capture` (xtask/src/fixtures/capture.rs,
//! which the test includes the same way). fixtures/README.md, section "Torture corpus", describes
//! the categories.
//!
//! The expectations follow from the file formats and from the README's "Exit codes":
//! - a classic pcap whose global header is intact is walked as libpcap walks it (and as
//!   callaudit's own reader does, src/capture/savefile.rs). Records are read until the file ends
//!   cleanly, or until a record header is cut, a record's captured length is above 262144
//!   (libpcap's maximum) or its data runs past the end of the file. A file that stops in one of
//!   these ways is *damaged*: it reports exactly the records before the damage, with a warning;
//! - pcapng files are read by libpcap. An error while opening (inside the section header or the
//!   first interface description, or a bad option there) means the file is *rejected*. An error
//!   after that (a cut block, a bad block length, a packet on an unknown interface, a second
//!   interface of another link type) means the file is *damaged*;
//! - a broken packet inside an intact record never changes the packet count.

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::capture::{self, linktype, Frame};

// ---------------------------------------------------------------- expectations

/// What callaudit must do with one capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Read to its end: exit 0 or 1 (findings or not), no warning, `packets` packets read.
    Read,
    /// Damaged part way. Exit 0 or 1 with a warning naming the file; the report covers exactly
    /// the `packets` complete packets before the damage.
    Damaged,
    /// Not a capture callaudit reads (no magic, bad header, unsupported link type, no
    /// interface). Exit 2, one error line on stderr naming the file, no report.
    Rejected,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Read => "read",
            Outcome::Damaged => "damaged",
            Outcome::Rejected => "rejected",
        }
    }
}

/// One generated capture and its expectation.
#[derive(Clone, Debug)]
pub struct Case {
    /// Relative to the corpus directory: `category/name.ext`.
    pub path: String,
    pub category: &'static str,
    /// What was done to the source, in words.
    pub what: String,
    pub bytes: Vec<u8>,
    pub outcome: Outcome,
    /// Packets the report must count: read, or read before the damage. 0 when rejected.
    pub packets: u64,
    /// The exact exit code, when the case decides it (1: the Beijing key exchange must survive).
    pub exit: Option<i32>,
    /// A server name the report must show as read from a TLS ClientHello (`hostname_source`
    /// "sni"), when the case keeps the ClientHello recoverable.
    pub sni: Option<&'static str>,
}

impl Case {
    /// The exit codes README's "Exit codes" table allows for this case.
    pub fn exit_codes(&self) -> Vec<i32> {
        match (self.exit, self.outcome) {
            (Some(code), _) => vec![code],
            (None, Outcome::Rejected) => vec![2],
            (None, _) => vec![0, 1],
        }
    }
}

/// The categories, in manifest order, with what each holds.
pub const CATEGORIES: [(&str, &str); 14] = [
    ("empty", "empty and one-byte files"),
    (
        "truncated",
        "classic pcap cut inside the global header, inside or at the end of a record header, inside record data, and at record boundaries",
    ),
    (
        "truncated-pcapng",
        "pcapng cut inside block headers, bodies and trailing lengths, and at block boundaries",
    ),
    (
        "bitflip-global",
        "one bit flipped in the magic, version, zone, sigfigs, snaplen or link type of the global header",
    ),
    (
        "bitflip-record",
        "one bit flipped in a record header's timestamp, captured length or original length",
    ),
    (
        "bitflip-packet",
        "random bits flipped in the link, IP, UDP/TCP or payload bytes of a third of the packets",
    ),
    (
        "absurd-length",
        "lying lengths: incl_len 0xFFFFFFFF, above the snaplen, orig_len < incl_len; IPv4 total length and IHL, UDP length, TCP data offset, IPv6 payload length; TLS, DTLS, certificate, STUN, RTP, SIP and DNS lengths",
    ),
    (
        "zero-oversized",
        "zero-length records, records shorter than their link header, 262144-byte records and one byte more",
    ),
    (
        "not-a-capture",
        "wrong magic (random, swapped, gzip, text), bad pcapng byte-order magic or version, unsupported link types, and the valid variants: big-endian and nanosecond files",
    ),
    (
        "pcapng",
        "unknown, custom, NRB, ISB and DSB blocks, several interfaces, mixed link types, packets on a missing interface, SPB, obsolete PB, bad option lengths, bad block lengths, several sections, big-endian",
    ),
    (
        "timestamps",
        "timestamps at the ends of their ranges, microseconds above 999999, time running backwards, extreme if_tsresol",
    ),
    (
        "fragments",
        "IPv4 and IPv6 fragments: in order, reversed, overlapping, duplicated, first or non-first only, past 64 KiB, atomic, nested",
    ),
    (
        "tcp",
        "the Beijing TLS flow with a split, reordered, overlapping, retransmitted or 1-byte-segmented ClientHello, sequence wrap-around, a reordered, duplicated or missing certificate segment, SYN oddities",
    ),
    (
        "mixed",
        "intact captures of every format: the directory run mixes them with all the others",
    ),
];

#[derive(Default)]
struct Corpus {
    cases: Vec<Case>,
}

impl Corpus {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        category: &'static str,
        name: impl Into<String>,
        what: impl Into<String>,
        bytes: Vec<u8>,
        outcome: Outcome,
        packets: usize,
        exit: Option<i32>,
    ) {
        let name = name.into();
        self.cases.push(Case {
            path: format!("{category}/{name}"),
            category,
            what: what.into(),
            bytes,
            outcome,
            packets: packets as u64,
            exit,
            sni: None,
        });
    }

    /// The last case added must show `sni` as its Beijing flow's server name.
    fn last_sni(&mut self, sni: &'static str) {
        if let Some(case) = self.cases.last_mut() {
            case.sni = Some(sni);
        }
    }

    fn read(
        &mut self,
        category: &'static str,
        name: impl Into<String>,
        what: impl Into<String>,
        bytes: Vec<u8>,
        packets: usize,
    ) {
        self.push(category, name, what, bytes, Outcome::Read, packets, None);
    }

    fn damaged(
        &mut self,
        category: &'static str,
        name: impl Into<String>,
        what: impl Into<String>,
        bytes: Vec<u8>,
        packets: usize,
    ) {
        self.push(category, name, what, bytes, Outcome::Damaged, packets, None);
    }

    fn rejected(
        &mut self,
        category: &'static str,
        name: impl Into<String>,
        what: impl Into<String>,
        bytes: Vec<u8>,
    ) {
        self.push(category, name, what, bytes, Outcome::Rejected, 0, None);
    }

    /// A little-endian classic pcap with an intact global header: the expectation is what
    /// walking its records gives.
    fn classic(
        &mut self,
        category: &'static str,
        name: impl Into<String>,
        what: impl Into<String>,
        bytes: Vec<u8>,
    ) {
        let (packets, clean) = walk_classic(&bytes);
        let outcome = if clean {
            Outcome::Read
        } else {
            Outcome::Damaged
        };
        self.push(category, name, what, bytes, outcome, packets, None);
    }

    /// Like [`Corpus::classic`], but the generator states the expectation and checks that the
    /// walk agrees: a mistake in a cut's position fails here, not in the test.
    fn classic_expect(
        &mut self,
        category: &'static str,
        name: impl Into<String>,
        what: impl Into<String>,
        bytes: Vec<u8>,
        packets: usize,
        clean: bool,
    ) -> Result<(), String> {
        let name = name.into();
        let walked = walk_classic(&bytes);
        if walked != (packets, clean) {
            return Err(format!(
                "{category}/{name}: meant {packets} packets (clean: {clean}), the walk gives {walked:?}"
            ));
        }
        self.classic(category, name, what, bytes);
        Ok(())
    }
}

// ---------------------------------------------------------------- the corpus

/// The supported classic link-type fixtures, `fixtures/linktypes/<stem>.pcap`.
const LINKTYPE_FILES: [&str; 10] = [
    "ethernet-vlan",
    "ethernet-qinq",
    "linux-sll",
    "linux-sll2",
    "raw-ipv4",
    "raw-ipv6",
    "dlt-raw-12",
    "ipv4-linktype-228",
    "bsd-null",
    "bsd-loop",
];

/// Link types callaudit decodes (src/capture/mod.rs, `LinkType::SUPPORTED`).
const SUPPORTED_LINKTYPES: [u32; 10] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

/// libpcap's largest captured length (`MAXIMUM_SNAPLEN`), above which a record is damage.
pub const MAX_RECORD: u32 = 262_144;

/// The Beijing server of the Citizen Lab reproduction.
const BEIJING: [u8; 4] = [52, 81, 151, 250];

/// The repository's `fixtures/`, whether this file is compiled into xtask or into the tests.
pub fn fixtures_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    if here.join("fixtures").is_dir() {
        here.join("fixtures")
    } else {
        here.join("../fixtures")
    }
}

/// Builds the whole corpus in memory from the fixtures in `fixtures`.
pub fn generate(fixtures: &Path) -> Result<Vec<Case>, String> {
    let load = |rel: &str| -> Result<Vec<u8>, String> {
        let path = fixtures.join(rel);
        fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let pcap = |rel: &str| -> Result<Pcap, String> { Pcap::parse(rel, &load(rel)?) };
    let main: Vec<(&str, Pcap)> = vec![
        ("citizenlab", pcap("citizenlab-zoom-2020.pcap")?),
        ("webrtc", pcap("webrtc-call.pcap")?),
        ("sip", pcap("sip-sdes-call.pcap")?),
        ("no-conferencing", pcap("no-conferencing.pcap")?),
        ("weak-tls", pcap("weak-tls.pcap")?),
        ("operator-restricted", pcap("operator-restricted.pcap")?),
        ("rtt-implausible", pcap("rtt-implausible.pcap")?),
        ("malformed", pcap("malformed.pcap")?),
    ];
    let mut linktypes = Vec::new();
    for stem in LINKTYPE_FILES {
        linktypes.push((stem, pcap(&format!("linktypes/{stem}.pcap"))?));
    }
    let pcapng = load("linktypes/pcapng-ethernet.pcapng")?;
    let unsupported = pcap("linktypes/unsupported-linktype.pcap")?;
    let text = load("not-a-capture.txt")?;
    let sources = Sources {
        main: &main,
        linktypes: &linktypes,
        pcapng: &pcapng,
        unsupported: &unsupported,
        text: &text,
    };

    let mut c = Corpus::default();
    empty(&mut c);
    truncated(&mut c, &sources)?;
    truncated_pcapng(&mut c, &sources)?;
    bitflip_global(&mut c, &sources);
    bitflip_record(&mut c, &sources);
    bitflip_packet(&mut c, &sources);
    absurd_length(&mut c, &sources)?;
    zero_oversized(&mut c, &sources)?;
    not_a_capture(&mut c, &sources)?;
    pcapng_structure(&mut c, &sources)?;
    timestamps(&mut c, &sources)?;
    fragments(&mut c, &sources)?;
    tcp(&mut c, &sources)?;
    mixed(&mut c, &sources)?;

    let mut names: Vec<&str> = c.cases.iter().map(|case| case.path.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(format!("two cases named {}", pair[0]));
    }
    Ok(c.cases)
}

struct Sources<'a> {
    main: &'a [(&'a str, Pcap)],
    linktypes: &'a [(&'a str, Pcap)],
    pcapng: &'a [u8],
    unsupported: &'a Pcap,
    text: &'a [u8],
}

impl Sources<'_> {
    fn get(&self, stem: &str) -> &Pcap {
        self.main
            .iter()
            .chain(self.linktypes)
            .find(|(name, _)| *name == stem)
            .map(|(_, pcap)| pcap)
            .expect("a known source")
    }
}

/// Writes every case under `dir` and `dir/MANIFEST.tsv`.
pub fn write(dir: &Path, cases: &[Case]) -> Result<(), String> {
    for case in cases {
        let path = dir.join(&case.path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::write(&path, &case.bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let manifest = dir.join("MANIFEST.tsv");
    fs::write(&manifest, manifest_text(cases)).map_err(|e| format!("{}: {e}", manifest.display()))
}

/// One line per case: path, category, outcome, packets, allowed exit codes, what.
pub fn manifest_text(cases: &[Case]) -> String {
    let mut out = String::from(
        "# callaudit torture corpus (cargo xtask torture; fixtures/README.md, \"Torture corpus\")\n\
         # outcome: read = exit 0|1, no warning; damaged = exit 0|1, a warning, the packets before the damage;\n\
         # rejected = exit 2, one error line naming the file\n\
         # path\tcategory\toutcome\tpackets\texit\twhat\n",
    );
    for case in cases {
        let codes: Vec<String> = case.exit_codes().iter().map(i32::to_string).collect();
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\n",
            case.path,
            case.category,
            case.outcome.name(),
            case.packets,
            codes.join("|"),
            case.what
        ));
    }
    out
}

/// `cargo xtask torture --out DIR`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut out: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out" => out = Some(PathBuf::from(it.next().ok_or("--out needs a directory")?)),
            "-h" | "--help" => {
                println!("usage: cargo xtask torture --out DIR");
                return Ok(());
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?} (usage: torture --out DIR)"
                ))
            }
        }
    }
    let out = out.ok_or("usage: cargo xtask torture --out DIR")?;
    let cases = generate(&fixtures_dir())?;
    write(&out, &cases)?;
    for (category, what) in CATEGORIES {
        let of: Vec<&Case> = cases.iter().filter(|c| c.category == category).collect();
        let count = |outcome| of.iter().filter(|c| c.outcome == outcome).count();
        println!(
            "{category:<17} {:>4}  (read {:>3}, damaged {:>3}, rejected {:>3})  {what}",
            of.len(),
            count(Outcome::Read),
            count(Outcome::Damaged),
            count(Outcome::Rejected)
        );
    }
    println!(
        "{} captures in {} (manifest: MANIFEST.tsv)",
        cases.len(),
        out.display()
    );
    Ok(())
}

// ---------------------------------------------------------------- empty

fn empty(c: &mut Corpus) {
    let cat = "empty";
    c.rejected(cat, "empty.pcap", "an empty file", Vec::new());
    c.rejected(cat, "empty.pcapng", "an empty file", Vec::new());
    c.rejected(cat, "empty.cap", "an empty file", Vec::new());
    c.rejected(cat, "one-zero-byte.pcap", "a single 0x00 byte", vec![0]);
    c.rejected(
        cat,
        "one-magic-byte.pcap",
        "the first byte of the pcap magic",
        vec![0xd4],
    );
    c.rejected(
        cat,
        "pcap-magic-only.pcap",
        "the 4-byte pcap magic and nothing else",
        0xa1b2_c3d4u32.to_le_bytes().to_vec(),
    );
    c.rejected(
        cat,
        "pcapng-magic-only.pcapng",
        "the 4-byte pcapng block type and nothing else",
        0x0A0D_0D0Au32.to_le_bytes().to_vec(),
    );
}

// ---------------------------------------------------------------- truncated

#[derive(Clone, Copy)]
enum Cut {
    Boundary,
    Header1,
    Header8,
    Header15,
    HeaderEnd,
    Data1,
    DataMid,
    DataLast,
}

const EVERY_CUT: [Cut; 8] = [
    Cut::Boundary,
    Cut::Header1,
    Cut::Header8,
    Cut::Header15,
    Cut::HeaderEnd,
    Cut::Data1,
    Cut::DataMid,
    Cut::DataLast,
];

fn truncated(c: &mut Corpus, s: &Sources) -> Result<(), String> {
    let cat = "truncated";
    let zoom = s.get("citizenlab");
    let bytes = zoom.bytes();
    for cut in [1, 2, 3, 4, 6, 8, 12, 16, 20, 23] {
        c.rejected(
            cat,
            format!("citizenlab-global-header-{cut}.pcap"),
            format!("cut after {cut} of the 24 global-header bytes"),
            bytes[..cut].to_vec(),
        );
    }
    c.classic_expect(
        cat,
        "citizenlab-global-header-only.pcap",
        "the 24-byte global header and no record",
        bytes[..24].to_vec(),
        0,
        true,
    )?;
    for (stem, pcap) in s.main {
        cut_record(c, stem, pcap, pcap.len() - 1, &EVERY_CUT)?;
    }
    for (stem, pcap) in &s.main[..2] {
        cut_record(c, stem, pcap, 0, &EVERY_CUT[1..])?;
        cut_record(c, stem, pcap, pcap.len() / 2, &EVERY_CUT)?;
    }
    for (stem, pcap) in s.linktypes {
        cut_record(c, stem, pcap, pcap.len() - 1, &[Cut::Header8, Cut::DataMid])?;
    }
    Ok(())
}

/// Cuts of `pcap` around record `index` (0-based): all of them damage it, except the cut at
/// the boundary before it, which leaves a shorter intact file.
fn cut_record(
    c: &mut Corpus,
    stem: &str,
    pcap: &Pcap,
    index: usize,
    cuts: &[Cut],
) -> Result<(), String> {
    let bytes = pcap.bytes();
    let at = pcap.offsets()[index];
    let len = pcap.records[index].data.len();
    for cut in cuts {
        let (label, end, what) = match cut {
            Cut::Boundary => (
                "boundary",
                at,
                "at the record boundary before it (a shorter, intact file)",
            ),
            Cut::Header1 => ("header-1", at + 1, "1 byte into its record header"),
            Cut::Header8 => ("header-8", at + 8, "8 bytes into its record header"),
            Cut::Header15 => ("header-15", at + 15, "15 bytes into its record header"),
            Cut::HeaderEnd => (
                "header-end",
                at + 16,
                "right after its record header, before any data",
            ),
            Cut::Data1 => ("data-1", at + 17, "1 byte into its data"),
            Cut::DataMid => ("data-mid", at + 16 + len / 2, "in the middle of its data"),
            Cut::DataLast => ("data-last", at + 16 + len - 1, "1 byte before its end"),
        };
        c.classic_expect(
            "truncated",
            format!("{stem}-rec{}-{label}.pcap", index + 1),
            format!(
                "record {} of {} ({len} bytes) cut {what}",
                index + 1,
                pcap.len()
            ),
            bytes[..end].to_vec(),
            index,
            matches!(cut, Cut::Boundary),
        )?;
    }
    Ok(())
}

/// The blocks of a little-endian pcapng file: (offset, type, total length).
fn pcapng_blocks(bytes: &[u8]) -> Vec<(usize, u32, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
        let kind = le32(bytes, at);
        let len = le32(bytes, at + 4) as usize;
        if len < 12 || at + len > bytes.len() {
            break;
        }
        out.push((at, kind, len));
        at += len;
    }
    out
}

const BT_SHB: u32 = 0x0A0D_0D0A;
const BT_IDB: u32 = 1;
const BT_PB: u32 = 2;
const BT_SPB: u32 = 3;
const BT_NRB: u32 = 4;
const BT_ISB: u32 = 5;
const BT_EPB: u32 = 6;
const BT_DSB: u32 = 0x0A;
const BT_CUSTOM: u32 = 0x0BAD;
const BT_CUSTOM_NO_COPY: u32 = 0x4000_0BAD;

fn truncated_pcapng(c: &mut Corpus, s: &Sources) -> Result<(), String> {
    let zoom = capture::pcapng(1, &s.get("citizenlab").frames(), None);
    for (stem, bytes, picks) in [
        (
            "pcapng-ethernet",
            s.pcapng,
            // (block index, `usize::MAX` for the last; offsets into the block, `END` being its
            // end and `END - 1`, `END - 2` one and two bytes before it)
            vec![
                (0, vec![2, 6, 10, 20, END - 2, END]),
                (1, vec![2, 6, 12, END - 2, END]),
                (2, vec![2, 6, 10, 30, END - 2, END]),
                (4, vec![4, 12, END]),
                (usize::MAX, vec![8, 40, END - 1]),
            ],
        ),
        (
            "citizenlab",
            zoom.as_slice(),
            vec![(27, vec![30, END - 2]), (usize::MAX, vec![60])],
        ),
    ] {
        let blocks = pcapng_blocks(bytes);
        let idb_end = blocks
            .iter()
            .find(|b| b.1 == BT_IDB)
            .map(|b| b.0 + b.2)
            .ok_or("pcapng fixture without an IDB")?;
        for (index, offsets) in picks {
            let index = index.min(blocks.len() - 1);
            let (start, kind, len) = blocks[index];
            for offset in offsets {
                let inside = if offset >= END - 2 {
                    len - (END - offset)
                } else {
                    offset
                };
                let cut = start + inside;
                let packets = blocks
                    .iter()
                    .filter(|b| matches!(b.1, BT_EPB | BT_SPB | BT_PB) && b.0 + b.2 <= cut)
                    .count();
                let within = blocks.iter().any(|b| b.0 < cut && cut < b.0 + b.2);
                let ordinal = blocks[..index]
                    .iter()
                    .filter(|b| matches!(b.1, BT_EPB | BT_SPB | BT_PB))
                    .count()
                    + 1;
                let block_name = match kind {
                    BT_SHB => "shb".to_string(),
                    BT_IDB => "idb".to_string(),
                    BT_EPB => format!("epb{ordinal}"),
                    _ => format!("block{index}-type-{kind:x}"),
                };
                let name = format!("{stem}-{block_name}-at-{inside}-of-{len}.pcapng");
                let what = format!(
                    "block {} (type 0x{kind:08x}, {len} bytes) cut after {inside} bytes",
                    index + 1
                );
                let data = bytes[..cut].to_vec();
                if cut < idb_end {
                    c.rejected("truncated-pcapng", name, what, data);
                } else if within {
                    c.damaged("truncated-pcapng", name, what, data, packets);
                } else {
                    c.read("truncated-pcapng", name, what, data, packets);
                }
            }
        }
    }
    Ok(())
}

/// "The end of the block" in [`truncated_pcapng`]'s offsets.
const END: usize = usize::MAX;

// ---------------------------------------------------------------- bit flips

fn bitflip_global(c: &mut Corpus, s: &Sources) {
    let cat = "bitflip-global";
    // (byte, bit) of the 24-byte header.
    let mut flips: Vec<(&str, Pcap, usize, u32)> = Vec::new();
    let zoom = s.get("citizenlab");
    for (byte, bit) in [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 7),
        (4, 0),
        (4, 2),
        (5, 7),
        (6, 0),
        (6, 2),
        (7, 0),
        (8, 0),
        (11, 7),
        (12, 0),
        (15, 7),
        (16, 0),
        (18, 1),
        (18, 2),
        (19, 7),
    ] {
        flips.push(("citizenlab", zoom.clone(), byte, bit));
    }
    for bit in 0..8 {
        flips.push(("citizenlab", zoom.clone(), 20, bit));
    }
    for (byte, bit) in [(21, 0), (22, 0), (23, 2), (23, 4), (23, 7)] {
        flips.push(("citizenlab", zoom.clone(), byte, bit));
    }
    for bit in 0..8 {
        flips.push(("raw-ipv4", s.get("raw-ipv4").clone(), 20, bit));
    }
    for bit in 0..4 {
        flips.push(("bsd-null", s.get("bsd-null").clone(), 20, bit));
    }
    for (stem, mut pcap, byte, bit) in flips {
        pcap.header[byte] ^= 1 << bit;
        let (field, start) = match byte {
            0..=3 => ("magic", 0),
            4..=5 => ("version_major", 4),
            6..=7 => ("version_minor", 6),
            8..=11 => ("thiszone", 8),
            12..=15 => ("sigfigs", 12),
            16..=19 => ("snaplen", 16),
            _ => ("linktype", 20),
        };
        let name = format!(
            "{stem}-{field}-bit{}.pcap",
            (byte - start) * 8 + bit as usize
        );
        let major = le16(&pcap.header, 4);
        let minor = le16(&pcap.header, 6);
        let link = le32(&pcap.header, 20);
        let what = match field {
            "magic" => "not a magic number any more".to_string(),
            "version_major" | "version_minor" => format!("version {major}.{minor}"),
            "linktype" => format!("link type {link} (0x{link:x})"),
            "snaplen" => format!("snaplen {}", le32(&pcap.header, 16)),
            _ => format!("{field} changed: ignored by readers"),
        };
        // libpcap reads versions 2.0 to 2.4 only (callaudit's own reader defers the rest to it).
        // It takes bits 26-31 of the link-type word as FCS information, but bits 16-25 stay in
        // the link type: 0x10001 is an unknown link type, not Ethernet.
        let readable = field != "magic"
            && major == 2
            && minor <= 4
            && SUPPORTED_LINKTYPES.contains(&(link & 0x03ff_ffff));
        if readable {
            c.classic(cat, name, what, pcap.bytes());
        } else {
            c.rejected(cat, name, what, pcap.bytes());
        }
    }
}

fn bitflip_record(c: &mut Corpus, s: &Sources) {
    let cat = "bitflip-record";
    let zoom = s.get("citizenlab");
    let client_hello = find_client_hello(zoom).expect("the citizenlab ClientHello");
    let webrtc = s.get("webrtc");
    let dtls_hello = webrtc
        .records
        .iter()
        .position(|r| {
            udp_payload(linktype::ETHERNET, &r.data).is_some_and(|p| p.starts_with(&[0x16, 0xfe]))
        })
        .expect("the webrtc DTLS ClientHello");
    let picks: [(&str, &Pcap, usize, &[u32]); 3] = [
        (
            "citizenlab",
            zoom,
            client_hello,
            &[0, 1, 2, 3, 4, 7, 8, 12, 16, 17, 18, 31],
        ),
        ("citizenlab", zoom, zoom.len() - 1, &[0, 3, 8, 17, 18]),
        ("webrtc", webrtc, dtls_hello, &[0, 5, 9, 17, 18]),
    ];
    for (stem, pcap, index, bits) in picks {
        for &bit in bits {
            let mut p = pcap.clone();
            p.records[index].incl ^= 1 << bit;
            c.classic(
                cat,
                format!("{stem}-rec{}-incl_len-bit{bit}.pcap", index + 1),
                format!(
                    "record {}: incl_len {} instead of {}",
                    index + 1,
                    p.records[index].incl,
                    pcap.records[index].incl
                ),
                p.bytes(),
            );
        }
        for (field, bit) in [
            ("ts_sec", 31),
            ("ts_usec", 20),
            ("ts_usec", 31),
            ("orig_len", 0),
            ("orig_len", 15),
            ("orig_len", 31),
        ] {
            let mut p = pcap.clone();
            let record = &mut p.records[index];
            match field {
                "ts_sec" => record.ts_sec ^= 1 << bit,
                "ts_usec" => record.ts_frac ^= 1 << bit,
                _ => record.orig ^= 1 << bit,
            }
            c.classic(
                cat,
                format!("{stem}-rec{}-{field}-bit{bit}.pcap", index + 1),
                format!("record {}: bit {bit} of {field} flipped", index + 1),
                p.bytes(),
            );
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Layer {
    Link,
    Ip,
    Transport,
    Payload,
}

fn bitflip_packet(c: &mut Corpus, s: &Sources) {
    let cat = "bitflip-packet";
    let mut picks: Vec<(&str, &Pcap, Layer, u32)> = Vec::new();
    for (stem, pcap) in s.main {
        for layer in [Layer::Link, Layer::Ip, Layer::Transport, Layer::Payload] {
            picks.push((stem, pcap, layer, 0));
        }
    }
    for stem in [
        "citizenlab",
        "webrtc",
        "sip",
        "weak-tls",
        "operator-restricted",
    ] {
        for round in 1..=2 {
            picks.push((stem, s.get(stem), Layer::Payload, round));
        }
    }
    for (stem, pcap) in s.linktypes {
        let first = if pcap.link() == linktype::ETHERNET
            || network_offset(pcap.link(), &pcap.records[0].data).is_some_and(|at| at > 0)
        {
            Layer::Link
        } else {
            Layer::Transport
        };
        picks.push((stem, pcap, first, 0));
        picks.push((stem, pcap, Layer::Ip, 0));
    }
    for (stem, pcap, layer, round) in picks {
        let label = format!("{layer:?}").to_lowercase();
        let name = if round == 0 {
            format!("{stem}-{label}.pcap")
        } else {
            format!("{stem}-{label}-{round}.pcap")
        };
        let mut rng = SplitMix64::new(&name);
        let mut p = pcap.clone();
        let link = p.link();
        let mut flipped = 0;
        for record in &mut p.records {
            if rng.below(3) != 0 {
                continue;
            }
            let Some(range) = layer_range(link, &record.data, layer) else {
                continue;
            };
            if range.is_empty() {
                continue;
            }
            for _ in 0..1 + rng.below(2) {
                let at = range.start + rng.below(range.len());
                record.data[at] ^= 1 << rng.below(8);
                flipped += 1;
            }
        }
        c.read(
            cat,
            name,
            format!(
                "{flipped} random bits flipped in {label} bytes of about a third of the packets"
            ),
            p.bytes(),
            p.len(),
        );
    }
}

/// The bytes of one layer of a frame.
fn layer_range(link: u32, data: &[u8], layer: Layer) -> Option<Range<usize>> {
    match layer {
        Layer::Link => Some(0..network_offset(link, data).unwrap_or(data.len().min(14))),
        Layer::Ip => ip_of(link, data).map(|ip| ip.at..ip.at + ip.hl),
        Layer::Transport => {
            let ip = ip_of(link, data)?;
            let l4 = ip.at + ip.hl;
            Some(l4..l4 + transport_len(data, ip)?)
        }
        Layer::Payload => {
            let ip = ip_of(link, data)?;
            Some(ip.at + ip.hl + transport_len(data, ip)?..data.len())
        }
    }
}

// ---------------------------------------------------------------- absurd lengths

fn absurd_length(c: &mut Corpus, s: &Sources) -> Result<(), String> {
    let cat = "absurd-length";
    let zoom = s.get("citizenlab");
    let hello = find_client_hello(zoom).ok_or("no ClientHello in citizenlab")?;
    let last = zoom.len() - 1;
    for (label, index, incl) in [
        ("incl_len-ffffffff-first", 0, u32::MAX),
        ("incl_len-ffffffff-clienthello", hello, u32::MAX),
        ("incl_len-ffffffff-last", last, u32::MAX),
        ("incl_len-7fffffff", 10, 0x7fff_ffff),
        ("incl_len-262145", 10, MAX_RECORD + 1),
        ("incl_len-262144-past-eof", 10, MAX_RECORD),
        ("incl_len-20-of-more", hello, 20),
        ("incl_len-1-of-more", 40, 1),
    ] {
        let mut p = zoom.clone();
        p.records[index].incl = incl;
        c.classic(
            cat,
            format!("citizenlab-{label}.pcap"),
            format!(
                "record {}: incl_len {incl} for {} bytes of data",
                index + 1,
                p.records[index].data.len()
            ),
            p.bytes(),
        );
    }
    {
        let webrtc = s.get("webrtc");
        let mut p = webrtc.clone();
        p.records[4].incl = u32::MAX;
        c.classic(
            cat,
            "webrtc-incl_len-ffffffff.pcap",
            "record 5 (the DTLS ClientHello): incl_len 0xFFFFFFFF",
            p.bytes(),
        );
    }
    for snaplen in [0u32, 1, 64, u32::MAX] {
        for stem in ["citizenlab", "webrtc"] {
            let mut p = s.get(stem).clone();
            put_le32(&mut p.header, 16, snaplen);
            c.classic(
                cat,
                format!("{stem}-snaplen-{snaplen}.pcap"),
                format!("global snaplen {snaplen}: records longer than it are cut to it"),
                p.bytes(),
            );
        }
    }
    for (label, orig) in [
        ("orig_len-0", Some(0u32)),
        ("orig_len-below-incl_len", None),
        ("orig_len-ffffffff", Some(u32::MAX)),
    ] {
        let mut p = zoom.clone();
        for r in &mut p.records {
            r.orig = orig.unwrap_or(r.incl.saturating_sub(1));
        }
        c.classic(
            cat,
            format!("citizenlab-{label}.pcap"),
            format!(
                "every record's orig_len {}",
                orig.map_or("incl_len - 1".into(), |o| o.to_string())
            ),
            p.bytes(),
        );
    }

    // Lies in the packets: every packet of the file carries the same one.
    let lies: Vec<(&str, &str, Edit)> = vec![
        (
            "ipv4-total-length-0",
            "IPv4 total length 0",
            ipv4_total(|_| 0),
        ),
        (
            "ipv4-total-length-19",
            "IPv4 total length 19 (below the header)",
            ipv4_total(|_| 19),
        ),
        (
            "ipv4-total-length-20",
            "IPv4 total length 20 (header only)",
            ipv4_total(|_| 20),
        ),
        (
            "ipv4-total-length-plus-1",
            "IPv4 total length one more than the data",
            ipv4_total(|n| n + 1),
        ),
        (
            "ipv4-total-length-minus-1",
            "IPv4 total length one less than the data",
            ipv4_total(|n| n - 1),
        ),
        (
            "ipv4-total-length-half",
            "IPv4 total length half the data",
            ipv4_total(|n| n / 2),
        ),
        (
            "ipv4-total-length-ffff",
            "IPv4 total length 65535",
            ipv4_total(|_| 0xffff),
        ),
        ("ipv4-ihl-0", "IPv4 IHL 0", ipv4_ihl(0)),
        ("ipv4-ihl-4", "IPv4 IHL 4", ipv4_ihl(4)),
        (
            "ipv4-ihl-6",
            "IPv4 IHL 6 (the transport header read as options)",
            ipv4_ihl(6),
        ),
        ("ipv4-ihl-15", "IPv4 IHL 15 (60-byte header)", ipv4_ihl(15)),
        ("udp-length-0", "UDP length 0", udp_length(|_| 0)),
        (
            "udp-length-7",
            "UDP length 7 (below its header)",
            udp_length(|_| 7),
        ),
        (
            "udp-length-8",
            "UDP length 8 (header only)",
            udp_length(|_| 8),
        ),
        (
            "udp-length-plus-1",
            "UDP length one more than the data",
            udp_length(|n| n + 1),
        ),
        (
            "udp-length-minus-1",
            "UDP length one less than the data",
            udp_length(|n| n - 1),
        ),
        (
            "udp-length-ffff",
            "UDP length 65535",
            udp_length(|_| 0xffff),
        ),
        ("tcp-data-offset-0", "TCP data offset 0", tcp_offset(0)),
        (
            "tcp-data-offset-4",
            "TCP data offset 4 (16 bytes)",
            tcp_offset(4),
        ),
        (
            "tcp-data-offset-6",
            "TCP data offset 6 (payload read as options)",
            tcp_offset(6),
        ),
        (
            "tcp-data-offset-15",
            "TCP data offset 15 (60 bytes, past short segments)",
            tcp_offset(15),
        ),
    ];
    for (label, what, edit) in &lies {
        let stems: &[&str] = if label.starts_with("tcp") {
            &["citizenlab", "weak-tls"]
        } else {
            &["citizenlab", "webrtc"]
        };
        for stem in stems {
            let (p, changed) = map_packets(s.get(stem), |data, ip| edit(data, ip));
            if changed == 0 {
                return Err(format!("{cat}: {label} changed no packet of {stem}"));
            }
            c.read(
                cat,
                format!("{stem}-{label}.pcap"),
                format!("{what}, in {changed} packets"),
                p.bytes(),
                p.len(),
            );
        }
    }
    for (label, length) in [("0", Some(0u16)), ("plus-1", None), ("ffff", Some(0xffff))] {
        let (p, changed) = map_packets(s.get("raw-ipv6"), |data, ip| {
            if !ip.v6 {
                return false;
            }
            let now = be16(data, ip.at + 4);
            put_be16(data, ip.at + 4, length.unwrap_or(now.wrapping_add(1)));
            true
        });
        c.read(
            cat,
            format!("raw-ipv6-payload-length-{label}.pcap"),
            format!("IPv6 payload length {label}, in {changed} packets"),
            p.bytes(),
            p.len(),
        );
    }

    // Lies in the application layers.
    let mut app: Vec<(&str, String, Pcap, usize)> = Vec::new();
    let tls_record = |stem: &'static str, value: u16| {
        let (p, n) = map_payloads(s.get(stem), |payload| {
            if payload.len() >= 5 && (0x14..=0x17).contains(&payload[0]) && payload[1] == 3 {
                put_be16(payload, 3, value);
                true
            } else {
                false
            }
        });
        (stem, format!("tls-record-length-{value:x}"), p, n)
    };
    for value in [0, 1, 0x4001, 0xffff] {
        app.push(tls_record("citizenlab", value));
    }
    app.push(tls_record("weak-tls", 0xffff));
    app.push(tls_record("operator-restricted", 0xffff));
    let tls_handshake = |stem: &'static str, value: u32| {
        let (p, n) = map_payloads(s.get(stem), |payload| {
            if payload.len() >= 9 && payload[0] == 0x16 && payload[1] == 3 {
                put_be24(payload, 6, value);
                true
            } else {
                false
            }
        });
        (stem, format!("tls-handshake-length-{value:x}"), p, n)
    };
    app.push(tls_handshake("citizenlab", 0));
    app.push(tls_handshake("citizenlab", 0xff_ffff));
    app.push(tls_handshake("weak-tls", 0xff_ffff));
    app.push(tls_handshake("operator-restricted", 0xff_ffff));
    for stem in ["citizenlab", "weak-tls", "operator-restricted"] {
        for (label, at, value, width) in [
            ("certificate-list-length-ffffff", 4, 0xff_ffff, 3),
            ("certificate-length-ffffff", 7, 0xff_ffff, 3),
            ("certificate-length-0", 7, 0, 3),
            ("certificate-der-length-ffff", 12, 0xffff, 2),
            ("certificate-der-length-0", 12, 0, 2),
        ] {
            let (p, n) = map_payloads(s.get(stem), |payload| {
                let Some(i) = find_certificate(payload) else {
                    return false;
                };
                if width == 2 && payload.get(i + 10..i + 12) != Some(&[0x30, 0x82]) {
                    return false;
                }
                if i + at + width > payload.len() {
                    return false;
                }
                if width == 3 {
                    put_be24(payload, i + at, value);
                } else {
                    put_be16(payload, i + at, value as u16);
                }
                true
            });
            app.push((stem, label.to_string(), p, n));
        }
    }
    let webrtc = s.get("webrtc");
    // DTLS: record header 13 bytes, then the handshake header: type, length (3),
    // message_seq (2), fragment_offset (3), fragment_length (3).
    for (label, at, value, width) in [
        ("dtls-record-length-0", 11, 0, 2),
        ("dtls-record-length-ffff", 11, 0xffff, 2),
        ("dtls-message-length-0", 14, 0, 3),
        ("dtls-message-length-ffffff", 14, 0xff_ffff, 3),
        ("dtls-fragment-offset-ffffff", 19, 0xff_ffff, 3),
        ("dtls-fragment-offset-100", 19, 0x100, 3),
        ("dtls-fragment-length-0", 22, 0, 3),
        ("dtls-fragment-length-ffffff", 22, 0xff_ffff, 3),
    ] {
        let (p, n) = map_payloads(webrtc, |payload| {
            if payload.len() < 25 || payload[0] != 0x16 || payload[1] != 0xfe {
                return false;
            }
            if width == 3 {
                put_be24(payload, at, value);
            } else {
                put_be16(payload, at, value as u16);
            }
            true
        });
        app.push(("webrtc", label.to_string(), p, n));
    }
    for (label, value) in [
        ("dtls-certificate-list-length-ffffff", 0),
        ("dtls-certificate-length-ffffff", 3),
    ] {
        let (p, n) = map_payloads(webrtc, |payload| {
            let mut at = 0;
            let mut changed = false;
            while at + 25 + 6 <= payload.len() && payload[at] == 0x16 && payload[at + 1] == 0xfe {
                let len = usize::from(be16(payload, at + 11));
                if payload[at + 13] == 0x0b {
                    put_be24(payload, at + 25 + value, 0xff_ffff);
                    changed = true;
                }
                at += 13 + len;
            }
            changed
        });
        app.push(("webrtc", label.to_string(), p, n));
    }
    for (label, at, value) in [
        ("stun-length-0", 2, 0u16),
        ("stun-length-1", 2, 1),
        ("stun-length-ffff", 2, 0xffff),
        ("stun-attribute-length-0", 22, 0),
        ("stun-attribute-length-ffff", 22, 0xffff),
    ] {
        let (p, n) = map_payloads(webrtc, |payload| {
            if payload.len() < 24
                || payload[0] & 0xc0 != 0
                || payload[4..8] != [0x21, 0x12, 0xa4, 0x42]
            {
                return false;
            }
            put_be16(payload, at, value);
            true
        });
        app.push(("webrtc", label.to_string(), p, n));
    }
    for (label, edit) in [
        ("rtp-csrc-count-15", 0u8),
        ("rtp-extension-length-ffff", 1),
        ("rtp-padding-ff", 2),
    ] {
        let (p, n) = map_payloads(webrtc, |payload| {
            if payload.len() < 16
                || !(128..=191).contains(&payload[0])
                || (192..=223).contains(&payload[1])
            {
                return false;
            }
            match edit {
                0 => payload[0] |= 0x0f,
                1 => {
                    payload[0] = (payload[0] & 0xf0) | 0x10;
                    put_be16(payload, 14, 0xffff);
                }
                _ => {
                    payload[0] |= 0x20;
                    *payload.last_mut().expect("not empty") = 0xff;
                }
            }
            true
        });
        app.push(("webrtc", label.to_string(), p, n));
    }
    let zoom_dns = |label: &str, edit: u8| {
        let (p, n) = map_payloads(zoom, |payload| {
            if payload.len() < 17 || payload[2] & 0x78 != 0 {
                return false;
            }
            match edit {
                0 => {
                    put_be16(payload, 4, 0xffff);
                    put_be16(payload, 6, 0xffff);
                }
                1 => payload[12] = 63,
                _ => {
                    // A compression pointer to itself where the answer's name starts.
                    let Some(at) = (12..payload.len() - 1)
                        .find(|&i| payload[i] == 0xc0 && payload[i + 1] == 0x0c)
                    else {
                        return false;
                    };
                    put_be16(payload, at, 0xc000 | at as u16);
                }
            }
            true
        });
        ("citizenlab", label.to_string(), p, n)
    };
    for (label, edit) in [
        ("dns-counts-ffff", 0),
        ("dns-label-63", 1),
        ("dns-pointer-loop", 2),
    ] {
        let (stem, label, p, n) = zoom_dns(label, edit);
        // Only the DNS flows: port 53 either way.
        let (p, n) = (only_port(&p, zoom, 53), n);
        app.push((stem, label, p, n));
    }
    for (label, value) in [
        ("sip-content-length-huge", "99999999999999999999"),
        ("sip-content-length-minus-1", "-1"),
        ("sip-content-length-0", "0"),
        ("sip-content-length-2-32", "4294967296"),
    ] {
        let sip = s.get("sip");
        let mut p = sip.clone();
        let mut n = 0;
        for record in &mut p.records {
            let Some(payload) = payload_range(linktype::ETHERNET, &record.data) else {
                continue;
            };
            let text = &record.data[payload.clone()];
            let Some(at) = find(text, b"Content-Length: ") else {
                continue;
            };
            let start = at + 16;
            let Some(end) = text[start..]
                .iter()
                .position(|b| *b == b'\r')
                .map(|e| start + e)
            else {
                continue;
            };
            let mut new = text[..start].to_vec();
            new.extend_from_slice(value.as_bytes());
            new.extend_from_slice(&text[end..]);
            if let Some(frame) = with_payload(linktype::ETHERNET, &record.data, &new) {
                record.set_data(frame);
                n += 1;
            }
        }
        app.push(("sip", label.to_string(), p, n));
    }
    for (stem, label, p, n) in app {
        if n == 0 {
            return Err(format!("{cat}: {label} changed no packet of {stem}"));
        }
        let len = p.len();
        c.read(
            cat,
            format!("{stem}-{label}.pcap"),
            format!("{label}, in {n} packets"),
            p.bytes(),
            len,
        );
    }
    Ok(())
}

/// `edited` where the packet uses `port`, else `original`'s packet.
fn only_port(edited: &Pcap, original: &Pcap, port: u16) -> Pcap {
    let mut p = original.clone();
    for (i, record) in p.records.iter_mut().enumerate() {
        let data = &original.records[i].data;
        let Some(ip) = ip_of(linktype::ETHERNET, data) else {
            continue;
        };
        let l4 = ip.at + ip.hl;
        if ip.proto == 17 && (be16(data, l4) == port || be16(data, l4 + 2) == port) {
            *record = edited.records[i].clone();
        }
    }
    p
}

/// An edit of one IP packet (frame, IP header): whether it changed the packet.
type Edit = Box<dyn Fn(&mut Vec<u8>, Ip) -> bool>;

fn ipv4_total(value: fn(u16) -> u16) -> Edit {
    Box::new(move |data, ip| {
        if ip.v6 {
            return false;
        }
        let real = (data.len() - ip.at) as u16;
        put_be16(data, ip.at + 2, value(real));
        fix_ipv4_header_checksum(data, ip);
        true
    })
}

fn ipv4_ihl(ihl: u8) -> Edit {
    Box::new(move |data, ip| {
        if ip.v6 {
            return false;
        }
        data[ip.at] = 0x40 | ihl;
        true
    })
}

fn udp_length(value: fn(u16) -> u16) -> Edit {
    Box::new(move |data, ip| {
        if ip.proto != 17 || data.len() < ip.at + ip.hl + 8 {
            return false;
        }
        let at = ip.at + ip.hl + 4;
        let real = (data.len() - ip.at - ip.hl) as u16;
        put_be16(data, at, value(real));
        true
    })
}

fn tcp_offset(offset: u8) -> Edit {
    Box::new(move |data, ip| {
        let at = ip.at + ip.hl + 12;
        if ip.proto != 6 || data.len() <= at {
            return false;
        }
        data[at] = (offset << 4) | (data[at] & 0x0f);
        true
    })
}

/// Applies `edit` to every IP packet; the number it changed.
fn map_packets(pcap: &Pcap, mut edit: impl FnMut(&mut Vec<u8>, Ip) -> bool) -> (Pcap, usize) {
    let mut p = pcap.clone();
    let link = p.link();
    let mut changed = 0;
    for record in &mut p.records {
        let Some(ip) = ip_of(link, &record.data) else {
            continue;
        };
        let mut data = record.data.clone();
        if edit(&mut data, ip) {
            record.set_data(data);
            changed += 1;
        }
    }
    (p, changed)
}

/// Applies `edit` to the UDP/TCP payload of every packet (in place, same length).
fn map_payloads(pcap: &Pcap, mut edit: impl FnMut(&mut [u8]) -> bool) -> (Pcap, usize) {
    let mut p = pcap.clone();
    let link = p.link();
    let mut changed = 0;
    for record in &mut p.records {
        let Some(range) = payload_range(link, &record.data) else {
            continue;
        };
        if range.is_empty() {
            continue;
        }
        if edit(&mut record.data[range]) {
            changed += 1;
        }
    }
    (p, changed)
}

/// Where a TLS Certificate handshake message starts in `payload`: type 11, then a 3-byte length
/// that is the certificate list's 3-byte length plus 3.
fn find_certificate(payload: &[u8]) -> Option<usize> {
    (0..payload.len().saturating_sub(10)).find(|&i| {
        payload[i] == 0x0b
            && be24(payload, i + 1) == be24(payload, i + 4) + 3
            && be24(payload, i + 4) > 3
    })
}

// ---------------------------------------------------------------- zero-length and oversized

fn zero_oversized(c: &mut Corpus, s: &Sources) -> Result<(), String> {
    let cat = "zero-oversized";
    let zoom = s.get("citizenlab");
    let hello = find_client_hello(zoom).ok_or("no ClientHello")?;
    let empty = |orig: u32| Rec {
        ts_sec: 1_585_839_600,
        ts_frac: 0,
        incl: 0,
        orig,
        data: Vec::new(),
    };
    for (label, at) in [
        ("first", 0),
        ("after-clienthello", hello + 1),
        ("last", zoom.len()),
    ] {
        let mut p = zoom.clone();
        p.records.insert(at, empty(0));
        c.classic_expect(
            cat,
            format!("citizenlab-zero-length-{label}.pcap"),
            format!("a zero-length record inserted as record {}", at + 1),
            p.bytes(),
            p.len(),
            true,
        )?;
    }
    {
        let mut p = zoom.clone();
        p.records.insert(5, empty(1514));
        c.classic_expect(
            cat,
            "citizenlab-zero-length-orig-1514.pcap",
            "a zero-length record whose orig_len says 1514",
            p.bytes(),
            p.len(),
            true,
        )?;
        let mut p = zoom.clone();
        for r in &mut p.records {
            r.data.clear();
            r.incl = 0;
        }
        c.classic_expect(
            cat,
            "citizenlab-all-zero-length.pcap",
            "every record emptied (incl_len 0, orig_len kept)",
            p.bytes(),
            p.len(),
            true,
        )?;
        let mut p = zoom.clone();
        p.records = (0..1000).map(|_| empty(0)).collect();
        c.classic_expect(
            cat,
            "zero-length-x1000.pcap",
            "1000 zero-length records and nothing else",
            p.bytes(),
            1000,
            true,
        )?;
    }
    for keep in [1, 13, 14, 20, 34] {
        let mut p = s.get("webrtc").clone();
        for r in &mut p.records {
            r.data.truncate(keep);
            r.incl = r.data.len() as u32;
        }
        c.classic_expect(
            cat,
            format!("webrtc-every-record-{keep}-bytes.pcap"),
            format!("every record cut to its first {keep} bytes (orig_len kept)"),
            p.bytes(),
            p.len(),
            true,
        )?;
    }
    for (stem, pcap) in s.linktypes {
        let mut p = pcap.clone();
        let header = network_offset(p.link(), &p.records[0].data).unwrap_or(0);
        let sample = p.records[0].data.clone();
        for keep in [0, 1, header.saturating_sub(1), header + 1] {
            let mut r = p.records[0].clone();
            r.set_data(sample[..keep.min(sample.len())].to_vec());
            p.records.push(r);
        }
        c.classic_expect(
            cat,
            format!("{stem}-short-records.pcap"),
            format!(
                "records of 0, 1, {} and {} bytes appended (the link header is {header} bytes)",
                header.saturating_sub(1),
                header + 1
            ),
            p.bytes(),
            p.len(),
            true,
        )?;
    }
    let webrtc = s.get("webrtc");
    let udp = webrtc.records[0].data.clone();
    let big = |size: usize| -> Result<Vec<u8>, String> {
        let payload_len = size - payload_range(linktype::ETHERNET, &udp).ok_or("udp")?.start;
        let mut frame =
            with_payload(linktype::ETHERNET, &udp, &vec![0x5a; payload_len]).ok_or("udp")?;
        // Lengths past 65535 cannot be said: claim the maximum.
        if frame.len() > 65_535 + 14 {
            put_be16(&mut frame, 16, 0xffff);
            put_be16(&mut frame, 38, 0xffff);
        }
        Ok(frame)
    };
    let frames_with = |frame: Vec<u8>, copies: usize| {
        let mut frames = webrtc.frames()[..3].to_vec();
        for _ in 0..copies {
            frames.push(Frame::new(frames[2].ts_us + 1000, frame.clone()));
        }
        frames.extend(webrtc.frames()[3..6].iter().cloned());
        frames
    };
    let max = big(MAX_RECORD as usize)?;
    let frames = frames_with(max.clone(), 1);
    c.classic_expect(
        cat,
        "webrtc-record-262144.pcap",
        "a 262144-byte record (the largest libpcap reads) among ordinary ones",
        capture::pcap(linktype::ETHERNET, &frames),
        frames.len(),
        true,
    )?;
    let frames = frames_with(max.clone(), 10);
    c.classic_expect(
        cat,
        "webrtc-record-262144-x10.pcap",
        "ten 262144-byte records",
        capture::pcap(linktype::ETHERNET, &frames),
        frames.len(),
        true,
    )?;
    let frames = frames_with(big(MAX_RECORD as usize + 1)?, 1);
    c.classic_expect(
        cat,
        "webrtc-record-262145.pcap",
        "a 262145-byte record, one more than libpcap reads: damage",
        capture::pcap(linktype::ETHERNET, &frames),
        3,
        false,
    )?;
    let jumbo = big(65_535 + 14)?;
    let frames = frames_with(jumbo, 1);
    c.classic_expect(
        cat,
        "webrtc-jumbo-65535.pcap",
        "a valid 65535-byte IPv4/UDP datagram",
        capture::pcap(linktype::ETHERNET, &frames),
        frames.len(),
        true,
    )?;
    let frames = frames_with(max, 1);
    c.read(
        cat,
        "webrtc-record-262144.pcapng",
        "a 262144-byte enhanced packet block",
        capture::pcapng(1, &frames, None),
        frames.len(),
    );
    Ok(())
}

// ---------------------------------------------------------------- not a capture

fn not_a_capture(c: &mut Corpus, s: &Sources) -> Result<(), String> {
    let cat = "not-a-capture";
    let zoom = s.get("citizenlab");
    let body = zoom.bytes();
    let valid = [
        0xa1b2_c3d4u32,
        0xd4c3_b2a1,
        0xa1b2_3c4d,
        0x4d3c_b2a1,
        0xa1b2_cd34,
        0x34cd_b2a1,
        0x0A0D_0D0A,
    ];
    let mut rng = SplitMix64::new("random magic");
    let mut made = 0;
    while made < 6 {
        let magic = rng.next() as u32;
        if valid.contains(&magic) {
            continue;
        }
        let mut bytes = body.clone();
        put_le32(&mut bytes, 0, magic);
        c.rejected(
            cat,
            format!("random-magic-{magic:08x}.pcap"),
            format!("magic 0x{magic:08x}"),
            bytes,
        );
        made += 1;
    }
    for (label, magic) in [
        ("swapped-magic-us", 0xd4c3_b2a1u32),
        ("swapped-magic-ns", 0x4d3c_b2a1),
    ] {
        let mut bytes = body.clone();
        put_le32(&mut bytes, 0, magic);
        c.rejected(
            cat,
            format!("citizenlab-{label}.pcap"),
            "a byte-swapped magic on a little-endian file: the version reads as 512.1024",
            bytes,
        );
    }
    c.read(
        cat,
        "citizenlab-big-endian.pcap",
        "the whole file written big-endian (valid)",
        zoom.big_endian(false),
        zoom.len(),
    );
    c.read(
        cat,
        "citizenlab-big-endian-ns.pcap",
        "big-endian with nanosecond timestamps (valid)",
        zoom.big_endian(true),
        zoom.len(),
    );
    {
        let mut p = zoom.clone();
        put_le32(&mut p.header, 0, 0xa1b2_3c4d);
        for r in &mut p.records {
            r.ts_frac *= 1000;
        }
        c.classic(
            cat,
            "citizenlab-nanoseconds.pcap",
            "nanosecond timestamps (valid)",
            p.bytes(),
        );
    }
    for (label, what, bytes) in [
        ("gzip", "a gzip header (gzip'd captures are not read)", {
            let mut b = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3];
            b.extend_from_slice(&body[..200]);
            b
        }),
        (
            "text",
            "fixtures/not-a-capture.txt named .pcap",
            s.text.to_vec(),
        ),
        ("elf", "an ELF header", {
            let mut b = b"\x7fELF\x02\x01\x01".to_vec();
            b.resize(64, 0);
            b
        }),
        (
            "magic-at-offset-1",
            "the pcap file behind one extra byte",
            {
                let mut b = vec![0];
                b.extend_from_slice(&body);
                b
            },
        ),
        ("zeros", "24 zero bytes and the records", {
            let mut b = body.clone();
            b[..24].fill(0);
            b
        }),
        ("ones", "24 0xFF bytes and the records", {
            let mut b = body.clone();
            b[..24].fill(0xff);
            b
        }),
    ] {
        c.rejected(cat, format!("{label}.pcap"), what, bytes);
    }
    // pcapng section headers libpcap refuses.
    let ng = Ng { be: false };
    let frames = eth_frames(s.pcapng);
    for (label, what, bom, major) in [
        (
            "pcapng-bad-byte-order-magic",
            "byte-order magic 0x1A2B3C4E",
            0x1A2B_3C4Eu32,
            1u16,
        ),
        ("pcapng-zero-byte-order-magic", "byte-order magic 0", 0, 1),
        ("pcapng-version-2", "pcapng version 2.0", 0x1A2B_3C4D, 2),
        ("pcapng-version-0", "pcapng version 0.0", 0x1A2B_3C4D, 0),
    ] {
        let mut body = ng.shb_body(major, 0, &ng.opts(&[]));
        put_le32(&mut body, 0, bom);
        let mut bytes = ng.block(BT_SHB, &body);
        bytes.extend(ng.idb(1, capture::SNAPLEN, &ng.opts(&[])));
        for f in &frames {
            bytes.extend(ng.epb(0, f.ts_us, &f.data, f.data.len() as u32, &[]));
        }
        c.rejected(cat, format!("{label}.pcapng"), what, bytes);
    }
    {
        // A little-endian file whose byte-order magic is written big-endian: the readers take
        // the whole file as big-endian, and the section's length as 0x..000000.
        let mut bytes = ng.file(1, &frames);
        bytes[8..12].copy_from_slice(&0x1A2B_3C4Du32.to_be_bytes());
        c.rejected(
            cat,
            "pcapng-byte-order-magic-swapped.pcapng",
            "a little-endian file with a big-endian byte-order magic",
            bytes,
        );
    }
    let unsupported = s.unsupported;
    c.rejected(
        cat,
        "unsupported-linktype.pcap",
        "link type 147 (USER0)",
        unsupported.bytes(),
    );
    let cut = unsupported.bytes();
    c.rejected(
        cat,
        "unsupported-linktype-truncated.pcap",
        "link type 147, cut inside its last record: the link type decides",
        cut[..cut.len() - 10].to_vec(),
    );
    {
        let mut p = zoom.clone();
        put_le32(&mut p.header, 20, 0xffff);
        c.rejected(
            cat,
            "citizenlab-linktype-65535.pcap",
            "link type 65535",
            p.bytes(),
        );
    }
    c.rejected(
        cat,
        "pcapng-unsupported-linktype.pcapng",
        "a pcapng interface of link type 147",
        ng.file(147, &frames),
    );
    Ok(())
}

// ---------------------------------------------------------------- pcapng structure

fn pcapng_structure(c: &mut Corpus, s: &Sources) -> Result<(), String> {
    let cat = "pcapng";
    let frames = eth_frames(s.pcapng);
    let n = frames.len();
    if n < 10 {
        return Err("pcapng-ethernet.pcapng has too few packets".into());
    }
    let raw = s.get("raw-ipv4").frames();
    let ng = Ng { be: false };
    let idb = |link: u16| ng.idb(link, capture::SNAPLEN, &ng.opts(&[(2, b"eth0"), (9, &[6])]));
    let epb = |iface: u32, f: &Frame| ng.epb(iface, f.ts_us, &f.data, f.data.len() as u32, &[]);
    // SHB, IDB (Ethernet), then `before` blocks, the packets with `between(i)` before packet i,
    // then `after`.
    let file = |before: &[u8], between: &dyn Fn(usize) -> Vec<u8>, after: &[u8]| {
        let mut out = ng.shb();
        out.extend(idb(1));
        out.extend_from_slice(before);
        for (i, f) in frames.iter().enumerate() {
            out.extend(between(i));
            out.extend(epb(0, f));
        }
        out.extend_from_slice(after);
        out
    };
    let nothing = |_: usize| Vec::<u8>::new();
    let unknown = |kind: u32, body: &[u8]| ng.block(kind, body);

    // Blocks readers skip.
    {
        let mut bytes = ng.shb();
        bytes.extend(unknown(0x8000_0001, b"local use, before the interface"));
        bytes.extend(idb(1));
        for f in &frames {
            bytes.extend(epb(0, f));
        }
        c.read(
            cat,
            "unknown-block-before-idb.pcapng",
            "a local-use block (0x80000001) between the SHB and the IDB",
            bytes,
            n,
        );
    }
    c.read(
        cat,
        "unknown-block-between-packets.pcapng",
        "a block of unknown type 0x0000000B between packets 3 and 4",
        file(
            &[],
            &|i| {
                if i == 3 {
                    unknown(0x0B, b"twelve bytes")
                } else {
                    Vec::new()
                }
            },
            &[],
        ),
        n,
    );
    c.read(
        cat,
        "unknown-block-at-end.pcapng",
        "a block of type 0x12345678 after the last packet",
        file(&[], &nothing, &unknown(0x1234_5678, &[0xab; 40])),
        n,
    );
    c.read(
        cat,
        "unknown-block-empty.pcapng",
        "an unknown block with an empty body (12 bytes) before each packet",
        file(&[], &|_| unknown(0x8000_0CA2, &[]), &[]),
        n,
    );
    c.read(
        cat,
        "unknown-blocks-x1000.pcapng",
        "1000 unknown blocks before the first packet",
        file(
            &(0..1000)
                .flat_map(|i: u32| unknown(0x8000_0000 | i, &i.to_le_bytes()))
                .collect::<Vec<u8>>(),
            &nothing,
            &[],
        ),
        n,
    );
    let custom = |kind: u32, data: &[u8]| {
        let mut body = 32473u32.to_le_bytes().to_vec(); // PEN: the example enterprise number
        body.extend_from_slice(data);
        ng.block(kind, &body)
    };
    c.read(
        cat,
        "custom-block.pcapng",
        "a custom block (0x00000BAD) with a PEN and data",
        file(&custom(BT_CUSTOM, b"callaudit torture"), &nothing, &[]),
        n,
    );
    c.read(
        cat,
        "custom-block-no-copy.pcapng",
        "a do-not-copy custom block (0x40000BAD), empty",
        file(
            &[],
            &|i| {
                if i == 5 {
                    custom(BT_CUSTOM_NO_COPY, &[])
                } else {
                    Vec::new()
                }
            },
            &[],
        ),
        n,
    );
    {
        let mut nrb = Vec::new();
        nrb.extend_from_slice(&1u16.to_le_bytes()); // nrb_record_ipv4
        let record = [&[142u8, 250, 82, 98][..], &b"meet.example.com\0"[..]].concat();
        nrb.extend_from_slice(&(record.len() as u16).to_le_bytes());
        nrb.extend_from_slice(&record);
        nrb.resize(nrb.len().div_ceil(4) * 4, 0);
        nrb.extend_from_slice(&[0, 0, 0, 0]); // nrb_record_end
        c.read(
            cat,
            "name-resolution-block.pcapng",
            "a name resolution block",
            file(&ng.block(BT_NRB, &nrb), &nothing, &[]),
            n,
        );
        let mut isb = 0u32.to_le_bytes().to_vec();
        isb.extend_from_slice(&0u32.to_le_bytes());
        isb.extend_from_slice(&0u32.to_le_bytes());
        isb.extend(ng.opts(&[(4, &13u64.to_le_bytes()), (5, &0u64.to_le_bytes())]));
        c.read(
            cat,
            "interface-statistics-block.pcapng",
            "an interface statistics block at the end",
            file(&[], &nothing, &ng.block(BT_ISB, &isb)),
            n,
        );
        let secrets = b"CLIENT_RANDOM 00 00\n";
        let mut dsb = 0x544c_534bu32.to_le_bytes().to_vec(); // TLS key log
        dsb.extend_from_slice(&(secrets.len() as u32).to_le_bytes());
        dsb.extend_from_slice(secrets);
        c.read(
            cat,
            "decryption-secrets-block.pcapng",
            "a decryption secrets block (TLS key log)",
            file(&ng.block(BT_DSB, &dsb), &nothing, &[]),
            n,
        );
    }

    // Several interfaces.
    {
        let mut bytes = ng.shb();
        bytes.extend(idb(1));
        bytes.extend(idb(1));
        for (i, f) in frames.iter().enumerate() {
            bytes.extend(epb((i % 2) as u32, f));
        }
        c.read(
            cat,
            "two-interfaces.pcapng",
            "two Ethernet interfaces, packets alternating between them",
            bytes,
            n,
        );
        let mut bytes = ng.shb();
        bytes.extend(idb(1));
        bytes.extend(idb(101));
        for (i, f) in frames.iter().enumerate() {
            bytes.extend(epb(0, f));
            bytes.extend(epb(1, &raw[i % raw.len()]));
        }
        c.damaged(cat, "mixed-linktypes.pcapng", "interfaces of link types 1 and 101: libpcap reads one link type per file and stops at the second interface", bytes, 0);
        let mut bytes = ng.shb();
        bytes.extend(idb(1));
        for (i, f) in frames.iter().enumerate() {
            if i == 5 {
                bytes.extend(idb(101));
            }
            bytes.extend(epb(0, f));
            if i >= 5 {
                bytes.extend(epb(1, &raw[i % raw.len()]));
            }
        }
        c.damaged(
            cat,
            "mixed-linktypes-mid-file.pcapng",
            "a raw-IP interface described after packet 5",
            bytes,
            5,
        );
        let mut bytes = ng.shb();
        bytes.extend(idb(1));
        for (i, f) in frames.iter().enumerate() {
            if i == 4 {
                bytes.extend(ng.idb(1, 65_535, &ng.opts(&[])));
            }
            bytes.extend(epb((i >= 4) as u32, f));
        }
        c.damaged(
            cat,
            "second-interface-other-snaplen.pcapng",
            "a second Ethernet interface with snaplen 65535 after packet 4",
            bytes,
            4,
        );
        for (label, at) in [("first", 0), ("seventh", 6)] {
            let mut bytes = ng.shb();
            bytes.extend(idb(1));
            for (i, f) in frames.iter().enumerate() {
                bytes.extend(epb(if i == at { 7 } else { 0 }, f));
            }
            c.damaged(
                cat,
                format!("missing-interface-{label}-packet.pcapng"),
                format!("packet {} on interface 7, which no IDB describes", at + 1),
                bytes,
                at,
            );
        }
    }

    // Other packet blocks.
    {
        let mut bytes = ng.shb();
        bytes.extend(idb(1));
        for f in &frames {
            bytes.extend(ng.spb(&f.data, f.data.len() as u32));
        }
        c.read(
            cat,
            "simple-packet-blocks.pcapng",
            "simple packet blocks only (no timestamps)",
            bytes,
            n,
        );
        let mut bytes = ng.shb();
        bytes.extend(idb(1));
        for (i, f) in frames.iter().enumerate() {
            let orig = if i == 3 { 65_535 } else { f.data.len() as u32 };
            bytes.extend(ng.spb(&f.data, orig));
        }
        c.damaged(
            cat,
            "simple-packet-block-orig-beyond-data.pcapng",
            "packet 4 is a simple packet block whose original length (65535) runs past its data",
            bytes,
            3,
        );
        let mut bytes = ng.shb();
        bytes.extend(idb(1));
        for f in &frames {
            bytes.extend(ng.pb(0, f.ts_us, &f.data));
        }
        c.read(
            cat,
            "obsolete-packet-blocks.pcapng",
            "obsolete packet blocks (type 2)",
            bytes,
            n,
        );
        let mut bytes = ng.shb();
        bytes.extend(idb(1));
        for (i, f) in frames.iter().enumerate() {
            let data: &[u8] = if i % 3 == 0 { &[] } else { &f.data };
            bytes.extend(ng.epb(0, f.ts_us, data, f.data.len() as u32, &[]));
        }
        c.read(
            cat,
            "epb-caplen-0.pcapng",
            "every third packet block captured 0 bytes",
            bytes,
            n,
        );
        let mut bytes = ng.shb();
        bytes.extend(idb(1));
        for (i, f) in frames.iter().enumerate() {
            let options = ng.opts(&[(1, b"a comment"), (2, &[1, 0, 0, 0]), (0x7777, &[1, 2, 3])]);
            bytes.extend(ng.epb(
                0,
                f.ts_us,
                &f.data,
                f.data.len() as u32,
                if i % 2 == 0 { &options } else { &[] },
            ));
        }
        c.read(
            cat,
            "epb-options.pcapng",
            "packet blocks with a comment, flags and an unknown option",
            bytes,
            n,
        );
    }

    // Bad lengths in options and blocks.
    {
        let mut bad_option = 4u16.to_le_bytes().to_vec();
        bad_option.extend_from_slice(&0xffffu16.to_le_bytes());
        bad_option.extend_from_slice(b"user");
        let mut body = ng.shb_body(1, 0, &[]);
        body.extend_from_slice(&bad_option);
        let mut bytes = ng.block(BT_SHB, &body);
        bytes.extend(idb(1));
        for f in &frames {
            bytes.extend(epb(0, f));
        }
        c.read(
            cat,
            "shb-option-length-ffff.pcapng",
            "a section header option whose length (65535) runs past the block",
            bytes,
            n,
        );
        let mut idb_body = 1u16.to_le_bytes().to_vec();
        idb_body.extend_from_slice(&0u16.to_le_bytes());
        idb_body.extend_from_slice(&capture::SNAPLEN.to_le_bytes());
        idb_body.extend_from_slice(&2u16.to_le_bytes());
        idb_body.extend_from_slice(&0x0100u16.to_le_bytes());
        idb_body.extend_from_slice(b"eth0");
        let mut bytes = ng.shb();
        bytes.extend(ng.block(BT_IDB, &idb_body));
        for f in &frames {
            bytes.extend(epb(0, f));
        }
        c.rejected(
            cat,
            "idb-option-length-past-block.pcapng",
            "the interface's if_name option says 256 bytes, the block holds 4",
            bytes,
        );
        for (label, what, options) in [
            (
                "idb-tsresol-length-2",
                "if_tsresol with a 2-byte value",
                ng.opts(&[(9, &[6, 0])]),
            ),
            (
                "idb-tsresol-twice",
                "two if_tsresol options",
                ng.opts(&[(9, &[6]), (9, &[9])]),
            ),
            (
                "idb-tsresol-10e-20",
                "if_tsresol 10^-20 (beyond 64 bits)",
                ng.opts(&[(9, &[20])]),
            ),
            (
                "idb-tsresol-2e-64",
                "if_tsresol 2^-64",
                ng.opts(&[(9, &[0x80 | 64])]),
            ),
            (
                "idb-tsoffset-length-3",
                "if_tsoffset with a 3-byte value",
                ng.opts(&[(14, &[1, 2, 3])]),
            ),
        ] {
            let mut bytes = ng.shb();
            bytes.extend(ng.idb(1, capture::SNAPLEN, &options));
            for f in &frames {
                bytes.extend(epb(0, f));
            }
            c.rejected(cat, format!("{label}.pcapng"), what, bytes);
        }
        let mut bytes = ng.shb();
        bytes.extend(ng.idb(1, capture::SNAPLEN, &ng.opt(2, b"eth0")));
        for f in &frames {
            bytes.extend(epb(0, f));
        }
        c.read(
            cat,
            "idb-options-without-end.pcapng",
            "interface options that end at the block's end without opt_endofopt",
            bytes,
            n,
        );
        let mut bytes = ng.shb();
        bytes.extend(ng.idb(
            1,
            capture::SNAPLEN,
            &ng.opts(&[(0x7777, b"unknown option")]),
        ));
        for f in &frames {
            bytes.extend(epb(0, f));
        }
        c.read(
            cat,
            "idb-unknown-option.pcapng",
            "an interface option of unknown code 0x7777",
            bytes,
            n,
        );
        let mut bytes = ng.shb();
        bytes.extend(idb(1));
        for (i, f) in frames.iter().enumerate() {
            let mut options = 1u16.to_le_bytes().to_vec();
            options.extend_from_slice(&0xfff0u16.to_le_bytes());
            options.extend_from_slice(b"late");
            bytes.extend(ng.epb(
                0,
                f.ts_us,
                &f.data,
                f.data.len() as u32,
                if i == 2 { &options } else { &[] },
            ));
        }
        c.read(
            cat,
            "epb-option-length-past-block.pcapng",
            "packet 3's comment option says 65520 bytes (packet options are not read)",
            bytes,
            n,
        );

        // Block lengths. Packet `at` gets the bad block; the packets before it are read.
        let at = 3;
        let lie = |head: u32, tail: u32| {
            let f = &frames[at];
            let mut body = 0u32.to_le_bytes().to_vec();
            body.extend_from_slice(&((f.ts_us >> 32) as u32).to_le_bytes());
            body.extend_from_slice(&(f.ts_us as u32).to_le_bytes());
            body.extend_from_slice(&(f.data.len() as u32).to_le_bytes());
            body.extend_from_slice(&(f.data.len() as u32).to_le_bytes());
            body.extend_from_slice(&f.data);
            body.resize(body.len().div_ceil(4) * 4, 0);
            let real = body.len() as u32 + 12;
            ng.block_raw(
                BT_EPB,
                &body,
                head.wrapping_add(real),
                tail.wrapping_add(real),
            )
        };
        let with_block = |block: Vec<u8>| {
            let mut bytes = ng.shb();
            bytes.extend(idb(1));
            for (i, f) in frames.iter().enumerate() {
                if i == at {
                    bytes.extend_from_slice(&block);
                } else {
                    bytes.extend(epb(0, f));
                }
            }
            bytes
        };
        c.damaged(
            cat,
            "block-length-not-multiple-of-4.pcapng",
            "packet 4's block length is 2 more than its size, not a multiple of 4",
            with_block(lie(2, 2)),
            at,
        );
        c.damaged(
            cat,
            "block-length-8.pcapng",
            "packet 4's block length is 8, below the 12-byte minimum",
            with_block({
                let mut b = lie(0, 0);
                put_le32(&mut b, 4, 8);
                b
            }),
            at,
        );
        c.damaged(
            cat,
            "block-length-fffffffc.pcapng",
            "packet 4's block length is 0xFFFFFFFC",
            with_block({
                let mut b = lie(0, 0);
                put_le32(&mut b, 4, 0xffff_fffc);
                b
            }),
            at,
        );
        c.damaged(
            cat,
            "block-length-past-eof.pcapng",
            "packet 4's block length is 4096 more than its size",
            with_block(lie(4096, 4096)),
            at,
        );
        c.damaged(
            cat,
            "block-trailing-length-differs.pcapng",
            "packet 4's trailing block length is 4 more than the leading one",
            with_block(lie(0, 4)),
            at,
        );
        let epb_lie = |caplen: u32| {
            let f = &frames[at];
            let mut b = ng.epb(0, f.ts_us, &f.data, f.data.len() as u32, &[]);
            put_le32(&mut b, 8 + 12, caplen);
            b
        };
        c.damaged(
            cat,
            "epb-caplen-ffffffff.pcapng",
            "packet 4's captured length is 0xFFFFFFFF",
            with_block(epb_lie(u32::MAX)),
            at,
        );
        c.damaged(
            cat,
            "epb-caplen-past-block.pcapng",
            "packet 4's captured length is 100 more than its block holds",
            with_block(epb_lie(frames[at].data.len() as u32 + 100)),
            at,
        );
    }

    // Sections, byte orders, link types and snaplens.
    {
        let be = Ng { be: true };
        c.read(
            cat,
            "big-endian.pcapng",
            "the whole file big-endian",
            be.file(1, &frames),
            n,
        );
        let mut bytes = ng.shb();
        bytes.extend(idb(1));
        for (i, f) in frames.iter().enumerate() {
            if i == 6 {
                bytes.extend(ng.shb());
                bytes.extend(idb(1));
            }
            bytes.extend(epb(0, f));
        }
        c.read(
            cat,
            "second-section.pcapng",
            "a second section (SHB and IDB) before packet 7",
            bytes,
            n,
        );
        let mut bytes = ng.shb();
        bytes.extend(idb(1));
        for (i, f) in frames.iter().enumerate() {
            if i == 6 {
                bytes.extend(be.shb());
                bytes.extend(be.idb(1, capture::SNAPLEN, &be.opts(&[])));
            }
            bytes.extend(if i >= 6 {
                be.epb(0, f.ts_us, &f.data, f.data.len() as u32, &[])
            } else {
                epb(0, f)
            });
        }
        c.damaged(
            cat,
            "second-section-big-endian.pcapng",
            "a second, big-endian section before packet 7",
            bytes,
            6,
        );
        let mut bytes = ng.shb();
        bytes.extend(idb(1));
        for (i, f) in frames.iter().enumerate() {
            if i == 6 {
                bytes.extend(ng.shb());
            }
            bytes.extend(epb(0, f));
        }
        c.damaged(
            cat,
            "second-section-without-interface.pcapng",
            "a second section without an IDB before packet 7",
            bytes,
            6,
        );
        let mut body = ng.shb_body(1, 0, &ng.opts(&[]));
        body[8..16].copy_from_slice(&0x7fff_ffff_ffff_fff0i64.to_le_bytes());
        let mut bytes = ng.block(BT_SHB, &body);
        bytes.extend(idb(1));
        for f in &frames {
            bytes.extend(epb(0, f));
        }
        c.read(
            cat,
            "section-length-huge.pcapng",
            "a section length of 2^63 - 16",
            bytes,
            n,
        );
        c.read(
            cat,
            "raw-ipv4.pcapng",
            "raw IPv4 (link type 101)",
            ng.file(101, &raw),
            raw.len(),
        );
        for (label, snaplen) in [("0", 0u32), ("20", 20), ("ffffffff", u32::MAX)] {
            let mut bytes = ng.shb();
            bytes.extend(ng.idb(1, snaplen, &ng.opts(&[])));
            for f in &frames {
                bytes.extend(epb(0, f));
            }
            let name = format!("idb-snaplen-{label}.pcapng");
            if snaplen == 20 {
                // libpcap: "invalid packet capture length 134, bigger than snaplen of 20".
                c.damaged(
                    cat,
                    name,
                    "interface snaplen 20, packets longer than it: libpcap stops at the first",
                    bytes,
                    0,
                );
            } else {
                c.read(
                    cat,
                    name,
                    format!("interface snaplen {snaplen} (unlimited)"),
                    bytes,
                    n,
                );
            }
        }
        let mut bytes = ng.shb();
        for f in &frames {
            bytes.extend(epb(0, f));
        }
        c.rejected(
            cat,
            "packet-before-interface.pcapng",
            "packet blocks and no IDB before them",
            bytes,
        );
        let mut bytes = ng.shb();
        bytes.extend(unknown(0x8000_0001, b"only this"));
        c.rejected(
            cat,
            "no-interface.pcapng",
            "a section header and an unknown block: no interface at all",
            bytes,
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- timestamps

fn timestamps(c: &mut Corpus, s: &Sources) -> Result<(), String> {
    let cat = "timestamps";
    let zoom = s.get("citizenlab");
    type Stamp = fn(usize, &mut Rec);
    let edits: [(&str, &str, Stamp); 6] = [
        (
            "ts_sec-ffffffff",
            "ts_sec 0xFFFFFFFF (year 2106)",
            |_, r| r.ts_sec = u32::MAX,
        ),
        (
            "ts_usec-ffffffff",
            "ts_usec 0xFFFFFFFF (over an hour of microseconds)",
            |_, r| r.ts_frac = u32::MAX,
        ),
        ("ts_usec-1000000", "ts_usec 1000000", |_, r| {
            r.ts_frac = 1_000_000
        }),
        ("ts-zero", "every timestamp 0 (1970-01-01)", |_, r| {
            r.ts_sec = 0;
            r.ts_frac = 0;
        }),
        (
            "ts-backwards",
            "time running backwards, a second per packet",
            |i, r| r.ts_sec = 1_600_000_000 - i as u32,
        ),
        (
            "ts-jumping",
            "timestamps jumping between 1970 and 2106",
            |i, r| r.ts_sec = if i % 2 == 0 { 1 } else { u32::MAX - 1 },
        ),
    ];
    for (label, what, edit) in edits {
        let mut p = zoom.clone();
        for (i, r) in p.records.iter_mut().enumerate() {
            edit(i, r);
        }
        c.classic(cat, format!("citizenlab-{label}.pcap"), what, p.bytes());
    }
    {
        let mut p = zoom.clone();
        put_le32(&mut p.header, 0, 0xa1b2_3c4d);
        for r in &mut p.records {
            r.ts_frac = u32::MAX;
        }
        c.classic(
            cat,
            "citizenlab-ns-fraction-ffffffff.pcap",
            "nanosecond file, every fraction 0xFFFFFFFF",
            p.bytes(),
        );
    }
    let frames = eth_frames(s.pcapng);
    let ng = Ng { be: false };
    for (label, what, tsresol, ts) in [
        ("us-max", "timestamps 2^64 - 1 microseconds", 6u8, u64::MAX),
        (
            "s-max",
            "if_tsresol 10^0 (seconds), timestamps 2^64 - 1",
            0,
            u64::MAX,
        ),
        (
            "ns-max",
            "if_tsresol 10^-9, timestamps 2^64 - 1",
            9,
            u64::MAX,
        ),
        (
            "2e0-max",
            "if_tsresol 2^0, timestamps 2^64 - 1",
            0x80,
            u64::MAX,
        ),
        (
            "2e-63",
            "if_tsresol 2^-63, timestamps 2^63",
            0x80 | 63,
            1 << 63,
        ),
        (
            "10e-19",
            "if_tsresol 10^-19, timestamps 2^64 - 1",
            19,
            u64::MAX,
        ),
        (
            "s-2e40",
            "if_tsresol 10^0 (seconds), timestamps 2^40",
            0,
            1 << 40,
        ),
    ] {
        let mut bytes = ng.shb();
        bytes.extend(ng.idb(1, capture::SNAPLEN, &ng.opts(&[(9, &[tsresol])])));
        for f in &frames {
            bytes.extend(ng.epb(0, ts, &f.data, f.data.len() as u32, &[]));
        }
        c.read(
            cat,
            format!("pcapng-{label}.pcapng"),
            what,
            bytes,
            frames.len(),
        );
    }
    Ok(())
}

// ---------------------------------------------------------------- fragments

fn fragments(c: &mut Corpus, s: &Sources) -> Result<(), String> {
    let cat = "fragments";
    let zoom = s.get("citizenlab");
    let eth = linktype::ETHERNET;
    let media = zoom
        .records
        .iter()
        .position(|r| udp_payload(eth, &r.data).is_some_and(|p| p.len() > 1000))
        .ok_or("no big UDP datagram in citizenlab")?;
    let frame = zoom.records[media].data.clone();
    let ip = ip_of(eth, &frame).ok_or("not IP")?;
    let payload = frame[ip.at + ip.hl..ip_end(&frame, ip)].to_vec();
    let len = payload.len();
    let part = |a: usize, b: usize| payload[a.min(len)..b.min(len)].to_vec();
    let junk = |n: usize| vec![0xee; n];
    type Piece = (u16, Vec<u8>, bool);
    let v4: Vec<(&str, &str, Vec<Piece>)> = vec![
        (
            "udp-in-order",
            "a Zoom media datagram in three fragments, in order",
            vec![
                (0, part(0, 512), true),
                (64, part(512, 1024), true),
                (128, part(1024, len), false),
            ],
        ),
        (
            "udp-reversed",
            "the three fragments last first",
            vec![
                (128, part(1024, len), false),
                (64, part(512, 1024), true),
                (0, part(0, 512), true),
            ],
        ),
        (
            "udp-overlap-same",
            "the second fragment starts 8 bytes inside the first, same bytes",
            vec![(0, part(0, 512), true), (63, part(504, len), false)],
        ),
        (
            "udp-overlap-conflict",
            "the second fragment starts 16 bytes inside the first, other bytes",
            vec![
                (0, part(0, 512), true),
                (62, [junk(16), part(512, len)].concat(), false),
            ],
        ),
        (
            "udp-duplicate",
            "every fragment twice",
            vec![
                (0, part(0, 512), true),
                (0, part(0, 512), true),
                (64, part(512, len), false),
                (64, part(512, len), false),
            ],
        ),
        (
            "udp-first-only",
            "the first fragment alone",
            vec![(0, part(0, 512), true)],
        ),
        (
            "udp-non-first-only",
            "the non-first fragments alone",
            vec![(64, part(512, 1024), true), (128, part(1024, len), false)],
        ),
        (
            "udp-tiny-first",
            "a first fragment of 8 bytes: the UDP header alone",
            vec![(0, part(0, 8), true), (1, part(8, len), false)],
        ),
        (
            "udp-header-split",
            "a first fragment of 4 bytes: half the UDP header",
            vec![(0, part(0, 4), true), (1, part(8, len), false)],
        ),
        (
            "udp-past-64k",
            "a fragment at offset 65512 carrying 1000 bytes (ends past 65535)",
            vec![(0, part(0, 512), true), (8189, part(0, 1000), false)],
        ),
        (
            "udp-more-fragments-whole",
            "the whole datagram with more-fragments set",
            vec![(0, part(0, len), true)],
        ),
        (
            "udp-offset-without-first",
            "the whole datagram at offset 8, last fragment",
            vec![(1, part(0, len), false)],
        ),
    ];
    let mut frames = zoom.frames();
    for (label, what, pieces) in v4 {
        let made = fragment_v4(&frame, ip, &pieces);
        let mut all = frames.clone();
        let ts = all[media].ts_us;
        all.splice(media..=media, made.into_iter().map(|d| Frame::new(ts, d)));
        c.read(
            cat,
            format!("citizenlab-{label}.pcap"),
            what,
            capture::pcap(eth, &all),
            all.len(),
        );
    }
    {
        // The ClientHello to Beijing in two IP fragments: the TCP header and 40 bytes, the rest.
        let hello = find_client_hello(zoom).ok_or("no ClientHello")?;
        let frame = zoom.records[hello].data.clone();
        let ip = ip_of(eth, &frame).ok_or("not IP")?;
        let payload = frame[ip.at + ip.hl..ip_end(&frame, ip)].to_vec();
        let made = fragment_v4(
            &frame,
            ip,
            &[
                (0, payload[..64].to_vec(), true),
                (8, payload[64..].to_vec(), false),
            ],
        );
        let ts = frames[hello].ts_us;
        frames.splice(hello..=hello, made.into_iter().map(|d| Frame::new(ts, d)));
        c.read(
            cat,
            "citizenlab-clienthello-fragmented.pcap",
            "the Beijing ClientHello's TCP segment in two IP fragments",
            capture::pcap(eth, &frames),
            frames.len(),
        );
    }
    {
        let webrtc = s.get("webrtc");
        let mut all = Vec::new();
        for f in webrtc.frames() {
            let Some(ip) = ip_of(eth, &f.data).filter(|ip| ip.proto == 17 && !ip.v6) else {
                all.push(f);
                continue;
            };
            let payload = f.data[ip.at + ip.hl..ip_end(&f.data, ip)].to_vec();
            if payload.len() <= 16 {
                all.push(f);
                continue;
            }
            let half = (payload.len() / 16) * 8;
            for d in fragment_v4(
                &f.data,
                ip,
                &[
                    (0, payload[..half].to_vec(), true),
                    ((half / 8) as u16, payload[half..].to_vec(), false),
                ],
            ) {
                all.push(Frame::new(f.ts_us, d));
            }
        }
        c.read(
            cat,
            "webrtc-every-datagram-in-two.pcap",
            "every UDP datagram of the call in two fragments",
            capture::pcap(eth, &all),
            all.len(),
        );
    }
    // IPv6: the DTLS ClientHello of raw-ipv6.pcap.
    let v6 = s.get("raw-ipv6");
    let link = v6.link();
    let index = v6
        .records
        .iter()
        .position(|r| udp_payload(link, &r.data).is_some_and(|p| p.starts_with(&[0x16, 0xfe])))
        .ok_or("no DTLS in raw-ipv6")?;
    let frame = v6.records[index].data.clone();
    let ip = ip_of(link, &frame).ok_or("not IPv6")?;
    let upper = frame[ip.at + 40..ip_end(&frame, ip)].to_vec();
    let hop_by_hop = [0u8, 0, 1, 4, 0, 0, 0, 0]; // next header (patched), length 0, PadN
                                                 // (label, what, fragments, an extension header before them, nested fragment headers)
    type V6Case<'a> = (&'a str, &'a str, Vec<Piece>, &'a [u8], bool);
    let v6_cases: Vec<V6Case> = vec![
        (
            "v6-in-order",
            "the DTLS ClientHello in two IPv6 fragments",
            vec![
                (0, upper[..64].to_vec(), true),
                (8, upper[64..].to_vec(), false),
            ],
            &[],
            false,
        ),
        (
            "v6-reversed",
            "the two fragments last first",
            vec![
                (8, upper[64..].to_vec(), false),
                (0, upper[..64].to_vec(), true),
            ],
            &[],
            false,
        ),
        (
            "v6-non-first-only",
            "the second fragment alone",
            vec![(8, upper[64..].to_vec(), false)],
            &[],
            false,
        ),
        (
            "v6-first-only",
            "the first fragment alone",
            vec![(0, upper[..64].to_vec(), true)],
            &[],
            false,
        ),
        (
            "v6-atomic",
            "an atomic fragment: offset 0, no more fragments (RFC 6946)",
            vec![(0, upper.clone(), false)],
            &[],
            false,
        ),
        (
            "v6-overlap",
            "the second fragment starts 8 bytes inside the first",
            vec![
                (0, upper[..64].to_vec(), true),
                (7, upper[56..].to_vec(), false),
            ],
            &[],
            false,
        ),
        (
            "v6-nested",
            "a fragment header inside a fragment header",
            vec![(0, upper.clone(), false)],
            &[],
            true,
        ),
        (
            "v6-hop-by-hop",
            "a hop-by-hop header, then the first fragment",
            vec![
                (0, upper[..64].to_vec(), true),
                (8, upper[64..].to_vec(), false),
            ],
            &hop_by_hop,
            false,
        ),
    ];
    for (label, what, pieces, before, nested) in v6_cases {
        let made = fragment_v6(&frame, ip, &pieces, before, nested);
        let mut all = v6.frames();
        let ts = all[index].ts_us;
        all.splice(index..=index, made.into_iter().map(|d| Frame::new(ts, d)));
        c.read(
            cat,
            format!("raw-ipv6-{label}.pcap"),
            what,
            capture::pcap(link, &all),
            all.len(),
        );
    }
    {
        // The packet ends inside its fragment header.
        let mut cut = frame[..ip.at + 40].to_vec();
        cut[ip.at + 6] = 44;
        put_be16(&mut cut, ip.at + 4, 4);
        cut.extend_from_slice(&[17, 0, 0, 0]);
        let mut all = v6.frames();
        all[index].data = cut;
        c.read(
            cat,
            "raw-ipv6-fragment-header-cut.pcap",
            "an IPv6 packet that ends 4 bytes into its fragment header",
            capture::pcap(link, &all),
            all.len(),
        );
    }
    Ok(())
}

/// `frame`'s IPv4 datagram as the given fragments: (offset in 8-byte units, bytes,
/// more-fragments).
fn fragment_v4(frame: &[u8], ip: Ip, pieces: &[(u16, Vec<u8>, bool)]) -> Vec<Vec<u8>> {
    pieces
        .iter()
        .map(|(offset, bytes, more)| {
            let mut out = frame[..ip.at + ip.hl].to_vec();
            out.extend_from_slice(bytes);
            put_be16(&mut out, ip.at + 2, (ip.hl + bytes.len()) as u16);
            put_be16(
                &mut out,
                ip.at + 6,
                (u16::from(*more) << 13) | (offset & 0x1fff),
            );
            fix_ipv4_header_checksum(&mut out, ip);
            out
        })
        .collect()
}

/// `frame`'s IPv6 packet as fragments: `before` is an extension header placed ahead of the
/// fragment header (its first byte is patched to point at it); `nested` puts a second fragment
/// header inside the first.
fn fragment_v6(
    frame: &[u8],
    ip: Ip,
    pieces: &[(u16, Vec<u8>, bool)],
    before: &[u8],
    nested: bool,
) -> Vec<Vec<u8>> {
    let upper_protocol = frame[ip.at + 6];
    pieces
        .iter()
        .map(|(offset, bytes, more)| {
            let mut out = frame[..ip.at + 40].to_vec();
            let mut next = 44u8;
            if !before.is_empty() {
                out[ip.at + 6] = 0;
                out.extend_from_slice(before);
                out[ip.at + 40] = 44;
            } else {
                out[ip.at + 6] = 44;
            }
            let fragment_header = |next: u8, offset: u16, more: bool| {
                let mut h = vec![next, 0];
                h.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
                h.extend_from_slice(&0x0c0f_fee5u32.to_be_bytes());
                h
            };
            if nested {
                out.extend(fragment_header(next, 0, false));
                next = upper_protocol;
                out.extend(fragment_header(next, *offset, *more));
            } else {
                out.extend(fragment_header(upper_protocol, *offset, *more));
            }
            out.extend_from_slice(bytes);
            let payload = (out.len() - ip.at - 40) as u16;
            put_be16(&mut out, ip.at + 4, payload);
            out
        })
        .collect()
}

// ---------------------------------------------------------------- TCP

fn tcp(c: &mut Corpus, s: &Sources) -> Result<(), String> {
    let cat = "tcp";
    let eth = linktype::ETHERNET;
    let zoom = s.get("citizenlab");
    let frames = zoom.frames();
    let hello = find_client_hello(zoom).ok_or("no ClientHello")?;
    let frame = frames[hello].data.clone();
    let ip = ip_of(eth, &frame).ok_or("not IP")?;
    let l4 = ip.at + ip.hl;
    let seq0 = be32(&frame, l4 + 4);
    let payload = udp_or_tcp_payload(eth, &frame)
        .ok_or("no payload")?
        .to_vec();
    let len = payload.len();
    let client_port = be16(&frame, l4);
    let in_flow = |f: &Frame| {
        ip_of(eth, &f.data).is_some_and(|ip| {
            let l4 = ip.at + ip.hl;
            ip.proto == 6
                && (f.data[ip.at + 12..ip.at + 16] == BEIJING
                    || f.data[ip.at + 16..ip.at + 20] == BEIJING)
                && (be16(&f.data, l4) == client_port || be16(&f.data, l4 + 2) == client_port)
        })
    };
    let to_server =
        |f: &Frame| ip_of(eth, &f.data).is_some_and(|ip| f.data[ip.at + 16..ip.at + 20] == BEIJING);
    // A segment of the ClientHello: bytes `range` of it, or `bytes` at that offset.
    let segment = |offset: usize, bytes: &[u8]| -> Vec<u8> {
        let mut f = frame.clone();
        put_be32(&mut f, l4 + 4, seq0.wrapping_add(offset as u32));
        with_payload(eth, &f, bytes).expect("a TCP frame")
    };
    let seg = |a: usize, b: usize| segment(a, &payload[a..b.min(len)]);
    let replace = |segments: Vec<Vec<u8>>| -> Vec<Frame> {
        let mut all = frames.clone();
        let ts = all[hello].ts_us;
        all.splice(
            hello..=hello,
            segments
                .into_iter()
                .enumerate()
                .map(|(i, d)| Frame::new(ts + i as u64 * 100, d)),
        );
        all
    };
    let mut conflicting = payload.clone();
    conflicting[70..90].fill(0);
    let cases: Vec<(&str, &str, Vec<Frame>)> = vec![
        (
            "clienthello-split-2",
            "the ClientHello in two segments",
            replace(vec![seg(0, 80), seg(80, len)]),
        ),
        (
            "clienthello-split-5",
            "the ClientHello in five segments",
            replace((0..5).map(|i| seg(i * 32, (i + 1) * 32)).collect()),
        ),
        (
            "clienthello-out-of-order",
            "three segments, the middle one first",
            replace(vec![seg(50, 100), seg(0, 50), seg(100, len)]),
        ),
        (
            "clienthello-reversed",
            "five segments, last first",
            replace((0..5).rev().map(|i| seg(i * 32, (i + 1) * 32)).collect()),
        ),
        (
            "clienthello-overlap-same",
            "two segments overlapping by 20 bytes, same bytes",
            replace(vec![seg(0, 90), seg(70, len)]),
        ),
        (
            "clienthello-overlap-conflict",
            "two segments overlapping by 20 bytes, the second with zeros there",
            replace(vec![seg(0, 90), segment(70, &conflicting[70..])]),
        ),
        (
            "clienthello-overlap-covering",
            "a 60-byte segment, then one covering the whole ClientHello",
            replace(vec![seg(0, 60), seg(0, len)]),
        ),
        (
            "clienthello-retransmitted",
            "the ClientHello sent twice",
            replace(vec![seg(0, len), seg(0, len)]),
        ),
        (
            "clienthello-retransmitted-different",
            "the ClientHello, then other bytes at the same sequence numbers",
            replace(vec![seg(0, len), segment(0, &vec![0x41; len])]),
        ),
        (
            "clienthello-1-byte-segments",
            "the ClientHello one byte per segment",
            replace((0..len).map(|i| seg(i, i + 1)).collect()),
        ),
        (
            "clienthello-1-byte-segments-reversed",
            "one byte per segment, last first",
            replace((0..len).rev().map(|i| seg(i, i + 1)).collect()),
        ),
        (
            "clienthello-before-isn",
            "10 bytes before the first sequence number, then the ClientHello",
            replace(vec![{
                let mut f = frame.clone();
                put_be32(&mut f, l4 + 4, seq0.wrapping_sub(10));
                with_payload(eth, &f, &[vec![0x42; 10], payload.clone()].concat())
                    .expect("a TCP frame")
            }]),
        ),
        (
            "clienthello-gap",
            "the ClientHello's middle 50 bytes never sent",
            replace(vec![seg(0, 50), seg(100, len)]),
        ),
    ];
    for (label, what, all) in cases {
        c.push(
            cat,
            format!("citizenlab-{label}.pcap"),
            what,
            capture::pcap(eth, &all),
            Outcome::Read,
            all.len(),
            Some(1),
        );
        if !UNRECOVERABLE.contains(&label) {
            c.last_sni(BEIJING_SNI);
        }
    }
    // Sequence numbers that wrap inside the handshake.
    for (label, what, client) in [
        (
            "client-seq-wrap",
            "the client's sequence numbers wrap 50 bytes into the ClientHello",
            true,
        ),
        (
            "server-seq-wrap",
            "the server's sequence numbers wrap inside its certificate",
            false,
        ),
    ] {
        let mut all = frames.clone();
        let server_first = all
            .iter()
            .skip(hello)
            .find(|f| in_flow(f) && !to_server(f))
            .map(|f| {
                let ip = ip_of(eth, &f.data).expect("IP");
                be32(&f.data, ip.at + ip.hl + 4)
            })
            .ok_or("no server segment")?;
        let delta = if client {
            0u32.wrapping_sub(50).wrapping_sub(seq0)
        } else {
            0u32.wrapping_sub(2000).wrapping_sub(server_first)
        };
        for f in &mut all {
            if !in_flow(f) {
                continue;
            }
            let ip = ip_of(eth, &f.data).expect("IP");
            let l4 = ip.at + ip.hl;
            let from_client = to_server(f);
            if from_client == client {
                let seq = be32(&f.data, l4 + 4);
                put_be32(&mut f.data, l4 + 4, seq.wrapping_add(delta));
            } else if f.data[l4 + 13] & 0x10 != 0 {
                let ack = be32(&f.data, l4 + 8);
                put_be32(&mut f.data, l4 + 8, ack.wrapping_add(delta));
            }
            fix_checksums(&mut f.data, ip);
        }
        c.push(
            cat,
            format!("citizenlab-{label}.pcap"),
            what,
            capture::pcap(eth, &all),
            Outcome::Read,
            all.len(),
            Some(1),
        );
        c.last_sni(BEIJING_SNI);
    }
    // The server's flight: the three segments after the ClientHello.
    let flight: Vec<usize> = (hello + 1..frames.len())
        .filter(|&i| {
            in_flow(&frames[i])
                && !to_server(&frames[i])
                && udp_or_tcp_payload(eth, &frames[i].data).is_some_and(|p| !p.is_empty())
        })
        .take(3)
        .collect();
    if flight.len() < 3 {
        return Err("the server's flight has fewer than 3 segments".into());
    }
    let (a, b, d) = (flight[0], flight[1], flight[2]);
    let mut swapped = frames.clone();
    swapped.swap(b, d);
    let mut duplicated = frames.clone();
    duplicated.insert(b + 1, frames[b].clone());
    let mut dropped = frames.clone();
    dropped.remove(b);
    let mut overlapping = frames.clone();
    {
        let fb = &frames[b].data;
        let fa = &frames[a].data;
        let ip = ip_of(eth, fb).expect("IP");
        let pa = udp_or_tcp_payload(eth, fa).expect("payload");
        let pb = udp_or_tcp_payload(eth, fb).expect("payload");
        let mut f = fb.clone();
        let seq = be32(fb, ip.at + ip.hl + 4);
        put_be32(&mut f, ip.at + ip.hl + 4, seq.wrapping_sub(100));
        let bytes = [&pa[pa.len() - 100..], pb].concat();
        overlapping[b].data = with_payload(eth, &f, &bytes).expect("a TCP frame");
    }
    let mut syn_again = frames.clone();
    let syn = frames[..hello]
        .iter()
        .rposition(|f| {
            in_flow(f)
                && to_server(f)
                && udp_or_tcp_payload(eth, &f.data).is_some_and(|p| p.is_empty())
                && {
                    let ip = ip_of(eth, &f.data).expect("IP");
                    f.data[ip.at + ip.hl + 13] & 0x02 != 0
                }
        })
        .ok_or("no SYN")?;
    {
        let mut f = frames[syn].clone();
        let ip = ip_of(eth, &f.data).expect("IP");
        put_be32(&mut f.data, ip.at + ip.hl + 4, 0x1234_5678);
        fix_checksums(&mut f.data, ip);
        syn_again.insert(syn + 1, f);
    }
    let mut data_on_syn = frames.clone();
    {
        let f = &frames[syn].data;
        data_on_syn[syn].data = with_payload(eth, f, &payload).expect("a TCP frame");
    }
    let mut reset = frames.clone();
    {
        let f = &frames[a].data;
        let ip = ip_of(eth, f).expect("IP");
        let mut r = with_payload(eth, f, &[]).expect("a TCP frame");
        r[ip.at + ip.hl + 13] = 0x14; // RST, ACK
        fix_checksums(&mut r, ip);
        reset.insert(a, Frame::new(frames[a].ts_us, r));
    }
    let mut reused = frames.clone();
    let last_ts = frames.last().map_or(0, |f| f.ts_us);
    reused.extend(frames.iter().filter(|f| in_flow(f)).map(|f| {
        Frame::new(
            f.ts_us - frames[0].ts_us + last_ts + 10_000_000,
            f.data.clone(),
        )
    }));
    for (label, what, all) in [
        (
            "certificate-segments-swapped",
            "the server's second and third segments swapped",
            swapped,
        ),
        (
            "certificate-segment-duplicated",
            "the server's second segment sent twice",
            duplicated,
        ),
        (
            "certificate-segment-missing",
            "the server's second segment lost",
            dropped,
        ),
        (
            "certificate-segment-overlapping",
            "the server's second segment starts 100 bytes inside the first",
            overlapping,
        ),
        (
            "syn-again-other-isn",
            "a second SYN with another initial sequence number",
            syn_again,
        ),
        (
            "clienthello-on-syn",
            "the ClientHello also carried on the SYN",
            data_on_syn,
        ),
        (
            "reset-before-server-hello",
            "the server resets the connection, then the handshake goes on",
            reset,
        ),
        (
            "flow-replayed",
            "the whole Beijing connection replayed on the same ports 10 s later",
            reused,
        ),
    ] {
        c.push(
            cat,
            format!("citizenlab-{label}.pcap"),
            what,
            capture::pcap(eth, &all),
            Outcome::Read,
            all.len(),
            Some(1),
        );
        if !UNRECOVERABLE.contains(&label) {
            c.last_sni(BEIJING_SNI);
        }
    }
    Ok(())
}

/// The Beijing ClientHello's server name.
const BEIJING_SNI: &str = "zoombj250mmr.bj.zoom.us";

/// TCP cases after which the ClientHello cannot be read: bytes missing, or out of order beyond
/// what the TLS stream holds (one out-of-order run, src/classify/tls.rs), or a second SYN that
/// moves the expected sequence number away from the ClientHello's. The key exchange is still
/// found from the server's handshake.
const UNRECOVERABLE: [&str; 4] = [
    "clienthello-reversed",
    "clienthello-1-byte-segments-reversed",
    "clienthello-gap",
    "syn-again-other-isn",
];

// ---------------------------------------------------------------- mixed

/// Intact files of every format, so that the directory run mixes good captures with the
/// broken ones (and so that each of them is read alone once more).
fn mixed(c: &mut Corpus, s: &Sources) -> Result<(), String> {
    let cat = "mixed";
    for (stem, pcap) in s.main.iter().chain(s.linktypes) {
        c.classic_expect(
            cat,
            format!("{stem}.pcap"),
            "the fixture unchanged",
            pcap.bytes(),
            pcap.len(),
            true,
        )?;
    }
    c.read(
        cat,
        "pcapng-ethernet.pcapng",
        "the pcapng fixture unchanged",
        s.pcapng.to_vec(),
        eth_frames(s.pcapng).len(),
    );
    let zoom = s.get("citizenlab");
    c.read(
        cat,
        "citizenlab.pcapng",
        "the Citizen Lab reproduction as pcapng",
        capture::pcapng(1, &zoom.frames(), Some(100)),
        zoom.len(),
    );
    c.classic_expect(
        cat,
        "citizenlab.cap",
        "the Citizen Lab reproduction named .cap",
        zoom.bytes(),
        zoom.len(),
        true,
    )?;
    Ok(())
}

// ---------------------------------------------------------------- classic pcap

/// One record: `incl` is what the record header says, which a case may make disagree with
/// `data`.
#[derive(Clone, Debug)]
struct Rec {
    ts_sec: u32,
    ts_frac: u32,
    incl: u32,
    orig: u32,
    data: Vec<u8>,
}

impl Rec {
    /// New data, with incl_len and orig_len following it.
    fn set_data(&mut self, data: Vec<u8>) {
        self.incl = data.len() as u32;
        self.orig = data.len() as u32;
        self.data = data;
    }
}

/// A little-endian classic pcap file, parsed.
#[derive(Clone, Debug)]
struct Pcap {
    header: [u8; 24],
    records: Vec<Rec>,
}

impl Pcap {
    fn parse(name: &str, bytes: &[u8]) -> Result<Pcap, String> {
        if bytes.len() < 24 || le32(bytes, 0) != 0xa1b2_c3d4 {
            return Err(format!("{name}: not a little-endian microsecond pcap"));
        }
        let mut header = [0; 24];
        header.copy_from_slice(&bytes[..24]);
        let mut records = Vec::new();
        let mut at = 24;
        while at < bytes.len() {
            if bytes.len() - at < 16 {
                return Err(format!("{name}: cut record header at {at}"));
            }
            let incl = le32(bytes, at + 8);
            let end = at + 16 + incl as usize;
            if end > bytes.len() {
                return Err(format!("{name}: cut record at {at}"));
            }
            records.push(Rec {
                ts_sec: le32(bytes, at),
                ts_frac: le32(bytes, at + 4),
                incl,
                orig: le32(bytes, at + 12),
                data: bytes[at + 16..end].to_vec(),
            });
            at = end;
        }
        Ok(Pcap { header, records })
    }

    fn link(&self) -> u32 {
        le32(&self.header, 20)
    }

    fn len(&self) -> usize {
        self.records.len()
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = self.header.to_vec();
        for r in &self.records {
            for word in [r.ts_sec, r.ts_frac, r.incl, r.orig] {
                out.extend_from_slice(&word.to_le_bytes());
            }
            out.extend_from_slice(&r.data);
        }
        out
    }

    /// The offset of each record header in [`Pcap::bytes`].
    fn offsets(&self) -> Vec<usize> {
        let mut at = 24;
        self.records
            .iter()
            .map(|r| {
                let here = at;
                at += 16 + r.data.len();
                here
            })
            .collect()
    }

    fn frames(&self) -> Vec<Frame> {
        self.records
            .iter()
            .map(|r| {
                Frame::new(
                    u64::from(r.ts_sec) * 1_000_000 + u64::from(r.ts_frac),
                    r.data.clone(),
                )
            })
            .collect()
    }

    /// The same file written big-endian (magic `a1b2c3d4` in big-endian byte order), with
    /// nanosecond timestamps if asked.
    fn big_endian(&self, nanoseconds: bool) -> Vec<u8> {
        let magic: u32 = if nanoseconds {
            0xa1b2_3c4d
        } else {
            0xa1b2_c3d4
        };
        let mut out = magic.to_be_bytes().to_vec();
        out.extend_from_slice(&le16(&self.header, 4).to_be_bytes());
        out.extend_from_slice(&le16(&self.header, 6).to_be_bytes());
        for at in [8, 12, 16, 20] {
            out.extend_from_slice(&le32(&self.header, at).to_be_bytes());
        }
        for r in &self.records {
            let frac = if nanoseconds {
                r.ts_frac * 1000
            } else {
                r.ts_frac
            };
            for word in [r.ts_sec, frac, r.incl, r.orig] {
                out.extend_from_slice(&word.to_be_bytes());
            }
            out.extend_from_slice(&r.data);
        }
        out
    }
}

/// Walks a little-endian classic pcap the way libpcap and callaudit's reader do: (records read,
/// whether the file ended cleanly at a record boundary).
pub fn walk_classic(bytes: &[u8]) -> (usize, bool) {
    let mut at = 24;
    let mut records = 0;
    loop {
        let rest = bytes.len().saturating_sub(at);
        if rest == 0 {
            return (records, true);
        }
        if rest < 16 {
            return (records, false);
        }
        let incl = le32(bytes, at + 8);
        if incl > MAX_RECORD || rest - 16 < incl as usize {
            return (records, false);
        }
        at += 16 + incl as usize;
        records += 1;
    }
}

// ---------------------------------------------------------------- pcapng writing

/// A pcapng writer in either byte order, for the blocks and lies `capture::pcapng` does not
/// write.
#[derive(Clone, Copy)]
struct Ng {
    be: bool,
}

impl Ng {
    fn w16(self, v: u16) -> [u8; 2] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn w32(self, v: u32) -> [u8; 4] {
        if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn block(self, kind: u32, body: &[u8]) -> Vec<u8> {
        let total = (12 + body.len().div_ceil(4) * 4) as u32;
        self.block_raw(kind, body, total, total)
    }

    /// A block whose leading and trailing lengths are given, whatever its size.
    fn block_raw(self, kind: u32, body: &[u8], head: u32, tail: u32) -> Vec<u8> {
        let mut out = self.w32(kind).to_vec();
        out.extend_from_slice(&self.w32(head));
        out.extend_from_slice(body);
        out.resize(8 + body.len().div_ceil(4) * 4, 0);
        out.extend_from_slice(&self.w32(tail));
        out
    }

    fn opt(self, code: u16, value: &[u8]) -> Vec<u8> {
        let mut out = self.w16(code).to_vec();
        out.extend_from_slice(&self.w16(value.len() as u16));
        out.extend_from_slice(value);
        out.resize(4 + value.len().div_ceil(4) * 4, 0);
        out
    }

    /// Options followed by opt_endofopt.
    fn opts(self, list: &[(u16, &[u8])]) -> Vec<u8> {
        let mut out: Vec<u8> = list
            .iter()
            .flat_map(|(code, value)| self.opt(*code, value))
            .collect();
        out.extend_from_slice(&[0; 4]);
        out
    }

    fn shb_body(self, major: u16, minor: u16, options: &[u8]) -> Vec<u8> {
        let mut body = self.w32(0x1A2B_3C4D).to_vec();
        body.extend_from_slice(&self.w16(major));
        body.extend_from_slice(&self.w16(minor));
        body.extend_from_slice(&[0xff; 8]); // section length: unspecified
        body.extend_from_slice(options);
        body
    }

    fn shb(self) -> Vec<u8> {
        let options = self.opts(&[(4, b"callaudit cargo xtask torture")]);
        self.block(BT_SHB, &self.shb_body(1, 0, &options))
    }

    fn idb(self, link: u16, snaplen: u32, options: &[u8]) -> Vec<u8> {
        let mut body = self.w16(link).to_vec();
        body.extend_from_slice(&self.w16(0));
        body.extend_from_slice(&self.w32(snaplen));
        body.extend_from_slice(options);
        self.block(BT_IDB, &body)
    }

    fn epb(self, iface: u32, ts: u64, data: &[u8], orig: u32, options: &[u8]) -> Vec<u8> {
        let mut body = self.w32(iface).to_vec();
        body.extend_from_slice(&self.w32((ts >> 32) as u32));
        body.extend_from_slice(&self.w32(ts as u32));
        body.extend_from_slice(&self.w32(data.len() as u32));
        body.extend_from_slice(&self.w32(orig));
        body.extend_from_slice(data);
        body.resize(20 + data.len().div_ceil(4) * 4, 0);
        body.extend_from_slice(options);
        self.block(BT_EPB, &body)
    }

    fn spb(self, data: &[u8], orig: u32) -> Vec<u8> {
        let mut body = self.w32(orig).to_vec();
        body.extend_from_slice(data);
        self.block(BT_SPB, &body)
    }

    fn pb(self, iface: u16, ts: u64, data: &[u8]) -> Vec<u8> {
        let mut body = self.w16(iface).to_vec();
        body.extend_from_slice(&self.w16(0)); // drops
        body.extend_from_slice(&self.w32((ts >> 32) as u32));
        body.extend_from_slice(&self.w32(ts as u32));
        body.extend_from_slice(&self.w32(data.len() as u32));
        body.extend_from_slice(&self.w32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(BT_PB, &body)
    }

    /// SHB, one IDB (microseconds), one EPB per frame.
    fn file(self, link: u16, frames: &[Frame]) -> Vec<u8> {
        let mut out = self.shb();
        out.extend(self.idb(
            link,
            capture::SNAPLEN,
            &self.opts(&[(2, b"eth0"), (9, &[6])]),
        ));
        for f in frames {
            out.extend(self.epb(0, f.ts_us, &f.data, f.data.len() as u32, &[]));
        }
        out
    }
}

/// The packets of a little-endian pcapng file's enhanced packet blocks (microseconds).
fn eth_frames(bytes: &[u8]) -> Vec<Frame> {
    pcapng_blocks(bytes)
        .into_iter()
        .filter(|b| b.1 == BT_EPB)
        .map(|(at, _, _)| {
            let ts = (u64::from(le32(bytes, at + 12)) << 32) | u64::from(le32(bytes, at + 16));
            let caplen = le32(bytes, at + 20) as usize;
            Frame::new(ts, bytes[at + 28..at + 28 + caplen].to_vec())
        })
        .collect()
}

// ---------------------------------------------------------------- packets

#[derive(Clone, Copy, Debug)]
struct Ip {
    /// Offset of the IP header in the frame.
    at: usize,
    v6: bool,
    /// IP header length (40 for IPv6: extension headers are not followed).
    hl: usize,
    proto: u8,
}

/// Where the IP header starts under `link`.
fn network_offset(link: u32, data: &[u8]) -> Option<usize> {
    match link {
        linktype::ETHERNET => {
            let mut at = 12;
            loop {
                match be16_at(data, at)? {
                    0x8100 | 0x88a8 => at += 4,
                    0x0800 | 0x86dd => return Some(at + 2),
                    _ => return None,
                }
            }
        }
        linktype::LINUX_SLL => Some(16),
        linktype::LINUX_SLL2 => Some(20),
        linktype::NULL | linktype::LOOP => Some(4),
        linktype::RAW | linktype::DLT_RAW_12 | linktype::IPV4 => Some(0),
        _ => None,
    }
}

fn ip_of(link: u32, data: &[u8]) -> Option<Ip> {
    let at = network_offset(link, data)?;
    let first = *data.get(at)?;
    match first >> 4 {
        4 => {
            let hl = usize::from(first & 0x0f) * 4;
            (hl >= 20 && data.len() >= at + hl).then(|| Ip {
                at,
                v6: false,
                hl,
                proto: data[at + 9],
            })
        }
        6 => (data.len() >= at + 40).then(|| Ip {
            at,
            v6: true,
            hl: 40,
            proto: data[at + 6],
        }),
        _ => None,
    }
}

fn transport_len(data: &[u8], ip: Ip) -> Option<usize> {
    let l4 = ip.at + ip.hl;
    match ip.proto {
        17 => (data.len() >= l4 + 8).then_some(8),
        6 => {
            let offset = usize::from(*data.get(l4 + 12)? >> 4) * 4;
            (offset >= 20 && data.len() >= l4 + offset).then_some(offset)
        }
        _ => None,
    }
}

/// Where the IP datagram ends by its length field, within the frame.
fn ip_end(data: &[u8], ip: Ip) -> usize {
    let end = if ip.v6 {
        ip.at + 40 + usize::from(be16(data, ip.at + 4))
    } else {
        ip.at + usize::from(be16(data, ip.at + 2))
    };
    end.min(data.len())
}

fn payload_range(link: u32, data: &[u8]) -> Option<Range<usize>> {
    let ip = ip_of(link, data)?;
    let start = ip.at + ip.hl + transport_len(data, ip)?;
    let end = ip_end(data, ip);
    (start <= end).then_some(start..end)
}

fn udp_or_tcp_payload(link: u32, data: &[u8]) -> Option<&[u8]> {
    payload_range(link, data).map(|r| &data[r])
}

fn udp_payload(link: u32, data: &[u8]) -> Option<&[u8]> {
    ip_of(link, data)
        .filter(|ip| ip.proto == 17)
        .and_then(|_| udp_or_tcp_payload(link, data))
}

/// The record holding the TLS ClientHello to the Beijing server.
fn find_client_hello(zoom: &Pcap) -> Option<usize> {
    zoom.records.iter().position(|r| {
        ip_of(linktype::ETHERNET, &r.data).is_some_and(|ip| {
            ip.proto == 6
                && r.data[ip.at + 16..ip.at + 20] == BEIJING
                && udp_or_tcp_payload(linktype::ETHERNET, &r.data)
                    .is_some_and(|p| p.len() > 6 && p[0] == 0x16 && p[5] == 1)
        })
    })
}

/// `frame` with its UDP/TCP payload replaced; lengths and checksums made consistent again.
fn with_payload(link: u32, frame: &[u8], payload: &[u8]) -> Option<Vec<u8>> {
    let ip = ip_of(link, frame)?;
    let start = ip.at + ip.hl + transport_len(frame, ip)?;
    let mut out = frame[..start].to_vec();
    out.extend_from_slice(payload);
    let ip_len = out.len() - ip.at;
    if ip.v6 {
        put_be16(&mut out, ip.at + 4, (ip_len - 40) as u16);
    } else {
        put_be16(&mut out, ip.at + 2, ip_len as u16);
    }
    if ip.proto == 17 {
        put_be16(&mut out, ip.at + ip.hl + 4, (ip_len - ip.hl) as u16);
    }
    fix_checksums(&mut out, ip);
    Some(out)
}

fn checksum_sum(bytes: &[u8]) -> u64 {
    bytes
        .chunks(2)
        .map(|pair| u64::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum()
}

fn checksum_fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn fix_ipv4_header_checksum(data: &mut [u8], ip: Ip) {
    if ip.v6 || data.len() < ip.at + ip.hl {
        return;
    }
    data[ip.at + 10..ip.at + 12].fill(0);
    let sum = checksum_fold(checksum_sum(&data[ip.at..ip.at + ip.hl]));
    put_be16(data, ip.at + 10, sum);
}

/// Recomputes the IPv4 header checksum and the UDP/TCP checksum of an unfragmented packet.
fn fix_checksums(data: &mut [u8], ip: Ip) {
    fix_ipv4_header_checksum(data, ip);
    let l4 = ip.at + ip.hl;
    let end = ip_end(data, ip);
    let at = match ip.proto {
        17 => l4 + 6,
        6 => l4 + 16,
        _ => return,
    };
    if at + 2 > end {
        return;
    }
    data[at..at + 2].fill(0);
    let addresses = if ip.v6 {
        &data[ip.at + 8..ip.at + 40]
    } else {
        &data[ip.at + 12..ip.at + 20]
    };
    let sum = checksum_sum(addresses)
        + u64::from(ip.proto)
        + (end - l4) as u64
        + checksum_sum(&data[l4..end]);
    let mut folded = checksum_fold(sum);
    if folded == 0 && ip.proto == 17 {
        folded = 0xffff;
    }
    put_be16(data, at, folded);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------- bytes

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be24(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([0, b[at], b[at + 1], b[at + 2]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn put_le32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_be16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

fn put_be24(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 3].copy_from_slice(&v.to_be_bytes()[1..]);
}

fn put_be32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// SplitMix64 (as in xtask/src/fixtures/crypto.rs), seeded from a case's name.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: &str) -> SplitMix64 {
        // FNV-1a of the seed text.
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for b in seed.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        SplitMix64(h)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_is_large_and_deterministic() {
        let a = generate(&fixtures_dir()).unwrap();
        let b = generate(&fixtures_dir()).unwrap();
        assert!(a.len() >= 300, "{}", a.len());
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.path, y.path);
            assert_eq!(x.bytes, y.bytes, "{}", x.path);
        }
        for (category, _) in CATEGORIES {
            assert!(a.iter().any(|c| c.category == category), "{category}");
        }
    }

    #[test]
    fn the_walk_follows_the_records() {
        let bytes = capture::pcap(1, &[Frame::new(0, vec![1; 10]), Frame::new(0, vec![2; 5])]);
        assert_eq!(walk_classic(&bytes), (2, true));
        assert_eq!(walk_classic(&bytes[..bytes.len() - 1]), (1, false));
        assert_eq!(walk_classic(&bytes[..24 + 26]), (1, true));
        assert_eq!(walk_classic(&bytes[..24 + 26 + 3]), (1, false));
    }
}
