//! What the fuzz targets share: the data a whole audit needs, loaded once per process, and a
//! way for one fuzz input to describe several datagrams or TCP segments.

use std::sync::OnceLock;

use callaudit::classify::app::AppCatalog;
use callaudit::geo::GeoDb;
use callaudit::policy::Policy;

/// The embedded GeoIP databases, the built-in policy and the embedded app catalog.
pub struct Data {
    pub geo: GeoDb,
    pub policy: Policy,
    pub catalog: AppCatalog,
}

/// Loaded on first use: opening the databases per input would dominate every run.
pub fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| Data {
        geo: GeoDb::embedded().expect("embedded GeoIP data"),
        policy: Policy::builtin().expect("built-in policy"),
        catalog: AppCatalog::embedded().expect("embedded app catalog"),
    })
}

/// Splits an input into pieces, each a big-endian `u16` length and that many bytes; the last
/// piece takes whatever is left when its length runs past the end. The mutator then changes
/// piece boundaries as easily as piece contents, which is what reassembly code must survive.
pub fn pieces(mut data: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if data.is_empty() {
            return None;
        }
        let (len, rest) = match data {
            [high, low, rest @ ..] => (usize::from(u16::from_be_bytes([*high, *low])), rest),
            _ => (0, &[][..]),
        };
        let (piece, after) = rest.split_at(len.min(rest.len()));
        data = after;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn pieces_split_by_length_and_take_the_rest_at_the_end() {
        let input = [0, 2, b'a', b'b', 0, 9, b'c'];
        let got: Vec<&[u8]> = pieces(&input).collect();
        assert_eq!(got, vec![&b"ab"[..], &b"c"[..]]);
        assert_eq!(pieces(&[7]).count(), 1);
    }
}
