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

/// The same file written big-endian, or with nanosecond timestamps.
fn rewrite(bytes: &[u8], big_endian: bool, nanoseconds: bool) -> Vec<u8> {
    let word = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let put = |out: &mut Vec<u8>, v: u32| {
        out.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        })
    };
    let mut out = Vec::new();
    put(
        &mut out,
        if nanoseconds {
            0xa1b2_3c4d
        } else {
            0xa1b2_c3d4
        },
    );
    for pair in bytes[4..8].chunks(2) {
        let v = u16::from_le_bytes([pair[0], pair[1]]);
        out.extend_from_slice(&if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
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
