use std::path::PathBuf;

use proptest::prelude::*;

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// What a reader delivered: every record, then how it ended.
#[derive(Debug, PartialEq)]
struct Outcome {
    records: Vec<(Timestamp, Vec<u8>, u32)>,
    end: Result<(), String>,
}

fn with_savefile(path: &Path) -> Outcome {
    let mut reader = Savefile::open(path).unwrap().expect("a classic pcap file");
    let mut records = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(r)) => records.push((r.time, r.data.to_vec(), r.original_len)),
            Ok(None) => {
                return Outcome {
                    records,
                    end: Ok(()),
                }
            }
            Err(e) => {
                return Outcome {
                    records,
                    end: Err(e),
                }
            }
        }
    }
}

fn with_libpcap(path: &Path) -> Outcome {
    let mut capture = pcap::Capture::from_file(path).unwrap();
    let mut records = Vec::new();
    loop {
        match capture.next_packet() {
            Ok(p) => records.push((
                Timestamp::from_timeval(p.header.ts.tv_sec, p.header.ts.tv_usec),
                p.data.to_vec(),
                p.header.len,
            )),
            Err(pcap::Error::NoMorePackets) => {
                return Outcome {
                    records,
                    end: Ok(()),
                }
            }
            Err(pcap::Error::PcapError(e)) => {
                return Outcome {
                    records,
                    end: Err(e),
                }
            }
            Err(e) => {
                return Outcome {
                    records,
                    end: Err(e.to_string()),
                }
            }
        }
    }
}

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("callaudit-savefile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `value` in the byte order of a file written big- or little-endian.
fn put_u32(out: &mut Vec<u8>, value: u32, big_endian: bool) {
    out.extend_from_slice(&if big_endian {
        value.to_be_bytes()
    } else {
        value.to_le_bytes()
    });
}

fn put_u16(out: &mut Vec<u8>, value: u16, big_endian: bool) {
    out.extend_from_slice(&if big_endian {
        value.to_be_bytes()
    } else {
        value.to_le_bytes()
    });
}

/// The classic magic number: microsecond or nanosecond timestamps.
fn magic(nanoseconds: bool) -> u32 {
    if nanoseconds {
        0xa1b2_3c4d
    } else {
        0xa1b2_c3d4
    }
}

/// The same file written big-endian, or with nanosecond timestamps.
fn rewrite(bytes: &[u8], big_endian: bool, nanoseconds: bool) -> Vec<u8> {
    let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let put = |out: &mut Vec<u8>, v: u32| put_u32(out, v, big_endian);
    let mut out = Vec::new();
    put(&mut out, magic(nanoseconds));
    for pair in bytes[4..8].chunks(2) {
        put_u16(&mut out, u16::from_le_bytes([pair[0], pair[1]]), big_endian);
    }
    for at in (8..24).step_by(4) {
        put(&mut out, word(&bytes[at..]));
    }
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let len = word(&bytes[at + 8..]) as usize;
        put(&mut out, word(&bytes[at..]));
        let fraction = word(&bytes[at + 4..]);
        put(
            &mut out,
            if nanoseconds {
                fraction * 1000 + 999
            } else {
                fraction
            },
        );
        put(&mut out, word(&bytes[at + 8..]));
        put(&mut out, word(&bytes[at + 12..]));
        out.extend_from_slice(&bytes[at + 16..at + 16 + len]);
        at += 16 + len;
    }
    out
}

#[test]
fn every_classic_fixture_reads_as_libpcap_reads_it() {
    for name in [
        "citizenlab-zoom-2020.pcap",
        "webrtc-call.pcap",
        "sip-sdes-call.pcap",
        "truncated.pcap",
        "malformed.pcap",
        "linktypes/linux-sll2.pcap",
        "linktypes/raw-ipv6.pcap",
        "linktypes/bsd-loop.pcap",
    ] {
        let path = fixture(name);
        let ours = with_savefile(&path);
        assert!(!ours.records.is_empty(), "{name}");
        assert_eq!(ours, with_libpcap(&path), "{name}");
    }
}

#[test]
fn byte_order_and_nanosecond_variants_read_alike() {
    let bytes = std::fs::read(fixture("webrtc-call.pcap")).unwrap();
    let reference = with_savefile(&fixture("webrtc-call.pcap"));
    for (big_endian, nanoseconds) in [(true, false), (false, true), (true, true)] {
        let path = scratch(
            &format!("variant-{big_endian}-{nanoseconds}.pcap"),
            &rewrite(&bytes, big_endian, nanoseconds),
        );
        let ours = with_savefile(&path);
        assert_eq!(ours, reference, "big endian {big_endian}, ns {nanoseconds}");
        assert_eq!(ours, with_libpcap(&path));
    }
}

#[test]
fn pcapng_and_other_files_are_left_to_libpcap() {
    assert!(Savefile::open(&fixture("linktypes/pcapng-ethernet.pcapng"))
        .unwrap()
        .is_none());
    assert!(Savefile::open(&fixture("not-a-capture.txt"))
        .unwrap()
        .is_none());
    assert!(Savefile::open(&scratch("short.pcap", b"\xd4\xc3\xb2\xa1"))
        .unwrap()
        .is_none());
    let mut fcs = std::fs::read(fixture("webrtc-call.pcap")).unwrap();
    fcs[23] = 0x10; // FCS-length bits in the link-type word
    assert!(Savefile::open(&scratch("fcs.pcap", &fcs))
        .unwrap()
        .is_none());
}

#[test]
fn versions_libpcap_refuses_are_left_to_it() {
    // Found by the torture corpus (tests/torture): a bit flip turning version 2.4 into 2.5 was
    // read here while libpcap rejects the file, so the two readers disagreed about what a file is.
    let bytes = std::fs::read(fixture("linktypes/raw-ipv4.pcap")).unwrap();
    for minor in [0u16, 4] {
        let mut file = bytes.clone();
        file[6..8].copy_from_slice(&minor.to_le_bytes());
        assert!(Savefile::open(&scratch("minor-ok.pcap", &file))
            .unwrap()
            .is_some());
    }
    for minor in [5u16, 260] {
        let mut file = bytes.clone();
        file[6..8].copy_from_slice(&minor.to_le_bytes());
        let path = scratch("minor.pcap", &file);
        assert!(Savefile::open(&path).unwrap().is_none(), "2.{minor}");
        assert!(
            pcap::Capture::from_file(&path).is_err(),
            "libpcap reads 2.{minor}"
        );
    }
}

#[test]
fn a_cut_anywhere_gives_every_record_before_it_and_libpcaps_words() {
    let bytes = std::fs::read(fixture("linktypes/raw-ipv4.pcap")).unwrap();
    for cut in 24..bytes.len() {
        let path = scratch("cut.pcap", &bytes[..cut]);
        assert_eq!(with_savefile(&path), with_libpcap(&path), "cut at {cut}");
    }
}

#[test]
fn an_absurd_record_length_is_damage() {
    let mut bytes = std::fs::read(fixture("linktypes/raw-ipv4.pcap")).unwrap();
    bytes[24 + 8..24 + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let path = scratch("absurd.pcap", &bytes);
    let ours = with_savefile(&path);
    assert!(ours.records.is_empty());
    let error = ours.end.unwrap_err();
    assert!(error.contains("bigger than snaplen of 262144"), "{error}");
    assert_eq!(Err(error), with_libpcap(&path).end);
}

#[test]
fn records_longer_than_the_snaplen_are_cut_to_it() {
    let mut bytes = std::fs::read(fixture("webrtc-call.pcap")).unwrap();
    bytes[16..20].copy_from_slice(&100u32.to_le_bytes());
    let path = scratch("snaplen.pcap", &bytes);
    let ours = with_savefile(&path);
    assert!(ours.records.iter().all(|(_, data, _)| data.len() <= 100));
    assert!(ours
        .records
        .iter()
        .any(|(_, data, len)| data.len() == 100 && *len > 100));
    assert_eq!(ours, with_libpcap(&path));
}

proptest! {
    /// Records of any length (within the limit) and any content read back as written, across
    /// the buffer's refills.
    #[test]
    fn records_read_back_as_written(lengths in proptest::collection::vec(0usize..70_000, 1..12)) {
        let mut bytes = rewrite(&std::fs::read(fixture("linktypes/raw-ipv4.pcap")).unwrap()[..24], false, false);
        for (i, len) in lengths.iter().enumerate() {
            bytes.extend_from_slice(&(i as u32).to_le_bytes());
            bytes.extend_from_slice(&7u32.to_le_bytes());
            bytes.extend_from_slice(&(*len as u32).to_le_bytes());
            bytes.extend_from_slice(&(*len as u32).to_le_bytes());
            bytes.extend((0..*len).map(|b| (b + i) as u8));
        }
        let ours = with_savefile(&scratch("lengths.pcap", &bytes));
        prop_assert_eq!(ours.end, Ok(()));
        prop_assert_eq!(ours.records.len(), lengths.len());
        for (i, (time, data, _)) in ours.records.iter().enumerate() {
            prop_assert_eq!(time.secs, i as i64);
            prop_assert_eq!(data.len(), lengths[i]);
            prop_assert!(data.iter().enumerate().all(|(b, v)| *v == (b + i) as u8));
        }
    }

    /// Garbage after a valid file header never panics and never reads past a record's length.
    #[test]
    fn garbage_records_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = std::fs::read(fixture("linktypes/raw-ipv4.pcap")).unwrap()[..24].to_vec();
        bytes.extend_from_slice(&body);
        let path = scratch("garbage.pcap", &bytes);
        let ours = with_savefile(&path);
        prop_assert!(ours.records.len() <= body.len() / 16);
    }
}

/// Found by `generated_files_round_trip_and_truncate`: a record longer than the snaplen, cut
/// before the snaplen's worth of bytes, is reported as libpcap reports it (the snaplen is what
/// it tried to read), and past that with the record's length.
#[test]
fn regression_a_record_over_the_snaplen_cut_short_is_worded_as_libpcap_words_it() {
    let mut bytes = std::fs::read(fixture("linktypes/raw-ipv4.pcap")).unwrap()[..24].to_vec();
    bytes[16..20].copy_from_slice(&33u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&374u32.to_le_bytes());
    bytes.extend_from_slice(&374u32.to_le_bytes());
    bytes.extend_from_slice(&[0x45; 100]);
    for (data, words) in [
        (32, "tried to read 33 captured bytes, only got 32"),
        (100, "tried to read 374 captured bytes, only got 100"),
    ] {
        let path = scratch("over-snaplen.pcap", &bytes[..24 + 16 + data]);
        let ours = with_savefile(&path);
        assert!(
            ours.end.as_ref().unwrap_err().ends_with(words),
            "{:?}",
            ours.end
        );
        assert_eq!(ours, with_libpcap(&path));
    }
}

/// A generated classic pcap file: the one savefile generator of these tests.
#[derive(Debug, Clone)]
struct FileSpec {
    big_endian: bool,
    nanoseconds: bool,
    /// 0 means "no limit" (libpcap reads it as its maximum).
    snaplen: u32,
    link_type: u16,
    /// (seconds, fraction of a second in the file's unit, captured bytes, original length).
    records: Vec<(u32, u32, Vec<u8>, u32)>,
}

impl FileSpec {
    fn bytes(&self) -> Vec<u8> {
        let put = |out: &mut Vec<u8>, v: u32| put_u32(out, v, self.big_endian);
        let mut out = Vec::new();
        put(&mut out, magic(self.nanoseconds));
        for half in [2u16, 4] {
            put_u16(&mut out, half, self.big_endian);
        }
        put(&mut out, 0); // thiszone
        put(&mut out, 0); // sigfigs
        put(&mut out, self.snaplen);
        put(&mut out, u32::from(self.link_type));
        for (seconds, fraction, data, original_len) in &self.records {
            put(&mut out, *seconds);
            put(&mut out, *fraction);
            put(&mut out, data.len() as u32);
            put(&mut out, *original_len);
            out.extend_from_slice(data);
        }
        out
    }

    /// The records as a reader must deliver them.
    fn expected(&self) -> Vec<(Timestamp, Vec<u8>, u32)> {
        let snaplen = match self.snaplen as usize {
            0 => MAX_RECORD,
            n => n.min(MAX_RECORD),
        };
        self.records
            .iter()
            .map(|(seconds, fraction, data, original_len)| {
                let micros = if self.nanoseconds {
                    fraction / 1000
                } else {
                    *fraction
                };
                let time = Timestamp::from_timeval(i64::from(*seconds), i64::from(micros));
                (
                    time,
                    data[..data.len().min(snaplen)].to_vec(),
                    *original_len,
                )
            })
            .collect()
    }

    /// Offsets where each record ends.
    fn record_ends(&self) -> Vec<usize> {
        let mut at = 24;
        self.records
            .iter()
            .map(|(_, _, data, _)| {
                at += 16 + data.len();
                at
            })
            .collect()
    }
}

fn any_file() -> impl Strategy<Value = FileSpec> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(0u32), 1u32..300, Just(65_535)],
        prop::sample::select(vec![1u16, 101, 113, 276, 0, 108, 228, 229]),
        proptest::collection::vec(
            (
                any::<u32>(),
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 0..400),
                any::<u32>(),
            ),
            0..8,
        ),
    )
        .prop_map(|(big_endian, nanoseconds, snaplen, link_type, records)| {
            let unit = if nanoseconds {
                1_000_000_000
            } else {
                1_000_000
            };
            let records = records
                .into_iter()
                .map(|(seconds, fraction, data, original_len)| {
                    let original_len = original_len.max(data.len() as u32);
                    (seconds & 0x7fff_ffff, fraction % unit, data, original_len)
                })
                .collect();
            FileSpec {
                big_endian,
                nanoseconds,
                snaplen,
                link_type,
                records,
            }
        })
}

proptest! {
    /// Any byte order, timestamp unit, snaplen, link type and records: read back as built
    /// (each record cut to the snaplen, as libpcap does), and as libpcap reads the same file.
    /// A file cut anywhere gives exactly the records that end before the cut, then a clean end
    /// (at a record boundary) or libpcap's words for the damage.
    #[test]
    fn generated_files_round_trip_and_truncate(
        spec in any_file(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 4),
    ) {
        let bytes = spec.bytes();
        let path = scratch("generated.pcap", &bytes);
        let ours = with_savefile(&path);
        let expected = spec.expected();
        prop_assert_eq!(&ours.records, &expected);
        prop_assert_eq!(&ours.end, &Ok(()));
        prop_assert_eq!(Savefile::open(&path).unwrap().unwrap().link_type(), LinkType(i32::from(spec.link_type)));
        prop_assert_eq!(&ours, &with_libpcap(&path));
        let ends = spec.record_ends();
        for cut in cuts {
            let cut = 24 + cut.index(bytes.len() - 24 + 1);
            let path = scratch("generated-cut.pcap", &bytes[..cut]);
            let ours = with_savefile(&path);
            let whole = ends.iter().filter(|&&end| end <= cut).count();
            prop_assert_eq!(&ours.records[..], &expected[..whole]);
            prop_assert_eq!(ours.end.is_ok(), cut == 24 || ends.contains(&cut));
            prop_assert_eq!(&ours, &with_libpcap(&path));
        }
    }

    /// A file that starts with any of the four magic numbers, whatever follows (header
    /// fields, records), never panics; records are never longer than the limit.
    #[test]
    fn arbitrary_files_after_a_magic_never_panic(
        magic in prop::sample::select(vec![0xa1b2_c3d4u32, 0xa1b2_3c4d, 0xd4c3_b2a1, 0x4d3c_b2a1]),
        version_two in any::<bool>(),
        rest in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = magic.to_le_bytes().to_vec();
        bytes.extend_from_slice(&rest);
        if version_two && bytes.len() >= 8 {
            let swapped = matches!(magic, 0xd4c3_b2a1 | 0x4d3c_b2a1);
            bytes[4..6].copy_from_slice(&if swapped { 2u16.to_be_bytes() } else { 2u16.to_le_bytes() });
        }
        let path = scratch("arbitrary.pcap", &bytes);
        if let Some(mut reader) = Savefile::open(&path).unwrap() {
            let mut records = 0;
            while let Ok(Some(record)) = reader.next_record() {
                prop_assert!(record.data.len() <= MAX_RECORD);
                records += 1;
                prop_assert!(records <= rest.len() / 16);
            }
        }
    }
}
