//! The report's flows: one list in report order, held as the runs the captures were settled
//! in.
//!
//! Each capture's flow reports are settled into a vector of their own (in the memory of its
//! flow table; `Session::settle`). Appending a second big capture's vector to the first copied
//! all its reports into fresh pages, a page fault per 4 KiB, on the one thread that puts the
//! report together: 12–18 ms for the 26,624 flows (18.5 MB) of a 1 GB capture, every time
//! several captures are audited together. So a big capture's vector is kept as it is, as a
//! part of the list; a small one is copied onto the end of the last part, so that a directory
//! of many small captures does not make thousands of parts.

use std::ops::Index;

use serde::{Serialize, Serializer};

use super::FlowReport;

/// A capture with fewer flows than this is copied onto the last part rather than kept as a
/// part of its own: copying a few thousand flow reports costs less than a millisecond.
const MIN_PART: usize = 4096;

#[derive(Debug, Default)]
pub struct Flows {
    /// Runs of consecutive flows, none empty.
    parts: Vec<Vec<FlowReport>>,
    /// The report index of each part's first flow, ascending.
    starts: Vec<usize>,
}

impl Flows {
    /// The last part's start plus its length.
    pub fn len(&self) -> usize {
        match (self.starts.last(), self.parts.last()) {
            (Some(start), Some(part)) => start + part.len(),
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Adds flows after the others, in their order.
    pub fn append(&mut self, mut flows: Vec<FlowReport>) {
        if flows.is_empty() {
            return;
        }
        let len = self.len();
        match self.parts.last_mut() {
            Some(last) if flows.len() < MIN_PART => last.append(&mut flows),
            _ => {
                self.starts.push(len);
                self.parts.push(flows);
            }
        }
    }

    pub fn clear(&mut self) {
        *self = Flows::default();
    }

    /// The flow with this report index.
    pub fn get(&self, index: usize) -> Option<&FlowReport> {
        let part = self.part_of(index)?;
        self.parts[part].get(index - self.starts[part])
    }

    /// The last part starting at or before `index`.
    fn part_of(&self, index: usize) -> Option<usize> {
        self.starts
            .partition_point(|&start| start <= index)
            .checked_sub(1)
    }

    pub fn last(&self) -> Option<&FlowReport> {
        self.parts.last().and_then(|part| part.last())
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &FlowReport> {
        self.into_iter()
    }

    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut FlowReport> {
        self.into_iter()
    }

    /// The flows in order as slices of at most `size` flows (at least 1); a slice does not
    /// run across two parts, so it may be shorter.
    pub fn chunks(&self, size: usize) -> impl Iterator<Item = &[FlowReport]> {
        let size = size.max(1);
        self.parts.iter().flat_map(move |part| part.chunks(size))
    }
}

impl Index<usize> for Flows {
    type Output = FlowReport;

    /// Like a vector's: out of range is a bug, and panics.
    fn index(&self, index: usize) -> &FlowReport {
        let part = self.part_of(index).unwrap_or(0);
        &self.parts[part][index - self.starts[part]]
    }
}

impl IntoIterator for Flows {
    type Item = FlowReport;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<FlowReport>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.parts.into_iter().flatten()
    }
}

impl<'a> IntoIterator for &'a Flows {
    type Item = &'a FlowReport;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<FlowReport>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.parts.iter().flatten()
    }
}

impl<'a> IntoIterator for &'a mut Flows {
    type Item = &'a mut FlowReport;
    type IntoIter = std::iter::Flatten<std::slice::IterMut<'a, Vec<FlowReport>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.parts.iter_mut().flatten()
    }
}

/// One JSON array, as a single vector would be.
impl Serialize for Flows {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` copies of a real flow report, told apart by `first_packet`, from `from` on.
    fn flows(from: u64, count: usize) -> Vec<FlowReport> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/webrtc-call.pcap");
        let report = crate::report::testing::audit(&[path]);
        let flow = report.flows.get(0).unwrap().clone();
        (from..)
            .take(count)
            .map(|number| FlowReport {
                first_packet: number,
                ..flow.clone()
            })
            .collect()
    }

    fn numbers<'a>(flows: impl Iterator<Item = &'a FlowReport>) -> Vec<u64> {
        flows.map(|flow| flow.first_packet).collect()
    }

    /// Big captures become parts of their own, small ones join the last part; either way the
    /// list reads as one, in order, by index, by iterator, in slices and as JSON.
    #[test]
    fn parts_read_as_one_list() {
        let sizes = [5, MIN_PART, 3, MIN_PART + 1, 0, 1];
        let mut all = Flows::default();
        let mut expected = Vec::new();
        for size in sizes {
            let added = flows(expected.len() as u64, size);
            expected.extend(added.iter().cloned());
            all.append(added);
        }
        let want: Vec<u64> = (0..expected.len() as u64).collect();
        assert_eq!(all.len(), expected.len());
        assert_eq!(
            all.parts.len(),
            3,
            "5 on its own, then the big ones with the small after them"
        );
        assert_eq!(numbers(all.iter()), want);
        assert_eq!(
            numbers(all.iter().rev()),
            want.iter().rev().copied().collect::<Vec<_>>()
        );
        assert_eq!(numbers((&all).into_iter()), want);
        for index in [0, 4, 5, MIN_PART + 4, MIN_PART + 8, all.len() - 1] {
            assert_eq!(all.get(index).map(|f| f.first_packet), Some(index as u64));
            assert_eq!(all[index].first_packet, index as u64);
        }
        assert!(all.get(all.len()).is_none());
        assert_eq!(all.last().map(|f| f.first_packet), want.last().copied());
        for size in [1, 7, 1000, 100_000] {
            let slices: Vec<&[FlowReport]> = all.chunks(size).collect();
            assert!(slices
                .iter()
                .all(|slice| !slice.is_empty() && slice.len() <= size));
            assert_eq!(numbers(slices.into_iter().flatten()), want);
        }
        assert_eq!(
            serde_json::to_string(&all).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
        for flow in &mut all {
            flow.first_packet += 1;
        }
        assert_eq!(all.get(0).map(|f| f.first_packet), Some(1));
        assert_eq!(
            numbers(all.into_iter().collect::<Vec<_>>().iter()).len(),
            want.len()
        );
    }

    #[test]
    fn an_empty_list_has_nothing_to_give() {
        let mut all = Flows::default();
        all.append(Vec::new());
        assert!(all.is_empty() && all.parts.is_empty());
        assert!(all.get(0).is_none() && all.last().is_none());
        assert_eq!(all.chunks(3).count(), 0);
        assert_eq!(serde_json::to_string(&all).unwrap(), "[]");
        all.append(flows(7, 1));
        assert_eq!(all.get(0).map(|f| f.first_packet), Some(7));
        all.clear();
        assert!(all.is_empty() && all.get(0).is_none());
    }
}
