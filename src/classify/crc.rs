//! Table-driven reflected CRC-32, shared by the dissectors that check one: STUN's FINGERPRINT
//! (ITU V.42 / Ethernet polynomial, RFC 8489 §14.7) and ZRTP's packet CRC (Castagnoli, RFC 6189
//! §5). Tables are built at compile time.

/// The lookup table of a reflected CRC-32 with the given (reflected) polynomial.
pub const fn table(reflected_polynomial: u32) -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut index = 0;
    while index < 256 {
        let mut crc = index as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ reflected_polynomial
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[index] = crc;
        index += 1;
    }
    table
}

/// The CRC of `bytes` (initial value and final XOR all ones).
pub fn checksum(table: &[u32; 256], bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &byte| {
        // A u8 index into a 256-entry table cannot be out of bounds.
        table[usize::from(crc as u8 ^ byte)] ^ (crc >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        // The standard check value: the CRC of "123456789".
        assert_eq!(checksum(&table(0xEDB8_8320), b"123456789"), 0xCBF4_3926);
        assert_eq!(checksum(&table(0x82F6_3B78), b"123456789"), 0xE306_9283);
    }
}
