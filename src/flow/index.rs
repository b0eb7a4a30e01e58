//! The flow table's index: which slot of the flow vector holds the flow of a hash.
//!
//! One 8-byte entry per flow holds the slot and the top half of the flow key's hash, in an
//! open-addressed array probed linearly and kept at most half full. A lookup reads one entry
//! (usually one cache line), then the flow, whose key the caller checks. A general hash table
//! keeps its control bytes and its entries apart, so a lookup that misses the cache waits for
//! two lines, one after the other, before it can even reach the flow.
//!
//! Flows leave the table only all at once (eviction and idle expiry rebuild the index), so
//! there is no deletion.

pub struct FlowIndex {
    /// `tag << 32 | slot`, where `tag` is the hash's top 32 bits, or [`EMPTY`].
    entries: Vec<u64>,
    len: usize,
}

/// The smallest array allocated: 16 entries, two cache lines.
const MIN_ENTRIES: usize = 16;

/// An empty entry: all ones, which no entry of a slot below `u32::MAX` equals. Not zero, so
/// that a new array is written when it is made. A zeroed array comes from the kernel as
/// untouched pages: the first lookup to read each page maps the shared zero page, and the first
/// entry written there copies it, a second page fault that also flushes the page's old mapping
/// from every core the process runs on. With `--jobs 2` on two 1 GB captures, that was about
/// 950 TLB flushes, 500 of them interrupts to the other core (about 80 since).
const EMPTY: u64 = u64::MAX;

impl FlowIndex {
    pub fn new() -> FlowIndex {
        FlowIndex {
            entries: Vec::new(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn clear(&mut self) {
        self.entries.fill(EMPTY);
        self.len = 0;
    }

    /// The first slot under `hash` for which `is_match` holds.
    pub fn find(&self, hash: u64, mut is_match: impl FnMut(usize) -> bool) -> Option<usize> {
        let mask = self.entries.len().checked_sub(1)?;
        let tag = hash >> 32;
        let mut at = hash as usize & mask;
        loop {
            let entry = *self.entries.get(at)?;
            if entry == EMPTY {
                return None;
            }
            if entry >> 32 == tag {
                let slot = slot_of(entry);
                if is_match(slot) {
                    return Some(slot);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// Adds the next slot, `len()` (below `u32::MAX`), under `hash`: slots are added in
    /// order, so the index always holds the slots `0..len()`. `hash_of` gives the hash of any
    /// slot already in the index, for when the array grows.
    pub fn push(&mut self, hash: u64, hash_of: impl Fn(usize) -> u64) {
        if (self.len + 1) * 2 > self.entries.len() {
            let entries = (self.entries.len() * 2).max(MIN_ENTRIES);
            self.entries = vec![EMPTY; entries];
            // Re-placed in slot order, not in the old array's order: `hash_of` reads each
            // flow's key, and in slot order those reads walk the flows front to back, which the
            // processor prefetches, instead of jumping between them (a cache miss each once the
            // flows outgrow the cache).
            for slot in 0..self.len {
                self.place(hash_of(slot), slot);
            }
        }
        self.place(hash, self.len);
        self.len += 1;
    }

    fn place(&mut self, hash: u64, slot: usize) {
        let mask = self.entries.len() - 1;
        let mut at = hash as usize & mask;
        // At most half full, so an empty entry is always found.
        while self.entries[at] != EMPTY {
            at = (at + 1) & mask;
        }
        self.entries[at] = (hash >> 32) << 32 | slot as u64;
    }
}

/// The slot an occupied entry holds.
fn slot_of(entry: u64) -> usize {
    entry as u32 as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes that collide in their low bits and, for some, in their tags too.
    fn hash(slot: usize) -> u64 {
        ((slot as u64 % 7) << 32) | (slot as u64 % 3)
    }

    #[test]
    fn every_slot_is_found_under_its_hash_through_growth_and_collisions() {
        let mut index = FlowIndex::new();
        for slot in 0..1000 {
            index.push(hash(slot), hash);
            assert_eq!(index.len(), slot + 1);
        }
        for slot in 0..1000 {
            assert_eq!(index.find(hash(slot), |s| s == slot), Some(slot));
        }
        assert_eq!(index.find(hash(5), |s| s == 5000), None);
        assert!(index.entries.len() >= 2000, "at most half full");
        index.clear();
        assert_eq!(index.len(), 0);
        assert_eq!(index.find(hash(5), |_| true), None);
    }

    #[test]
    fn a_hash_of_all_ones_is_not_taken_for_an_empty_entry() {
        let mut index = FlowIndex::new();
        let all_ones = |_| u64::MAX;
        for _ in 0..3 {
            index.push(u64::MAX, all_ones);
        }
        for slot in 0..3 {
            assert_eq!(index.find(u64::MAX, |s| s == slot), Some(slot));
        }
        assert_eq!(index.find(u64::MAX, |s| s == 3), None);
    }

    #[test]
    fn an_empty_index_finds_nothing() {
        assert_eq!(FlowIndex::new().find(42, |_| true), None);
    }
}
