//! Byte classes of a 64-byte block as bit masks (bit `i` is byte `i`).
//!
//! The `edges` array is about 60% of a snapshot, and a plain diff needs nothing from it but its
//! length and the proof that every edge is valid. Finding its numbers a block at a time from
//! masks, and converting them without a branch per digit, runs several times faster than the
//! general scanner; see `IntArrayScanner::feed_batched`.

/// Bytes per block: one bit each in a `u64`.
pub(crate) const BLOCK: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Masks {
    pub digit: u64,
    pub comma: u64,
    /// JSON whitespace: space, `\n`, `\r`, `\t`.
    pub space: u64,
    /// The digit `0`, which may not start a longer number in JSON.
    pub zero: u64,
}

/// One byte at a time: the reference, and the version for targets without SSE2.
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
pub(crate) fn classify_portable(block: &[u8; BLOCK]) -> Masks {
    let mut m = Masks {
        digit: 0,
        comma: 0,
        space: 0,
        zero: 0,
    };
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        if b.is_ascii_digit() {
            m.digit |= bit;
            if b == b'0' {
                m.zero |= bit;
            }
        } else if b == b',' {
            m.comma |= bit;
        } else if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            m.space |= bit;
        }
    }
    m
}

/// SSE2 is part of every x86-64 CPU, so this needs no run-time detection.
#[cfg(target_arch = "x86_64")]
pub(crate) fn classify(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let mut m = Masks {
        digit: 0,
        comma: 0,
        space: 0,
        zero: 0,
    };
    // SAFETY: SSE2 is baseline on x86_64; each load reads 16 bytes inside the 64-byte array
    // (offsets 0, 16, 32, 48), and `loadu` has no alignment requirement.
    unsafe {
        let below_zero = _mm_set1_epi8(b'0' as i8 - 1);
        let above_nine = _mm_set1_epi8(b'9' as i8 + 1);
        let comma = _mm_set1_epi8(b',' as i8);
        let zero = _mm_set1_epi8(b'0' as i8);
        let sp = _mm_set1_epi8(b' ' as i8);
        let nl = _mm_set1_epi8(b'\n' as i8);
        let cr = _mm_set1_epi8(b'\r' as i8);
        let tab = _mm_set1_epi8(b'\t' as i8);
        for k in 0..BLOCK / 16 {
            let v = _mm_loadu_si128(block.as_ptr().add(k * 16) as *const __m128i);
            // Signed compares: bytes >= 0x80 are negative, so never digits.
            let digit = _mm_and_si128(_mm_cmpgt_epi8(v, below_zero), _mm_cmplt_epi8(v, above_nine));
            let space = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, nl)),
                _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, tab)),
            );
            let shift = k * 16;
            m.digit |= (_mm_movemask_epi8(digit) as u16 as u64) << shift;
            m.comma |= (_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma)) as u16 as u64) << shift;
            m.space |= (_mm_movemask_epi8(space) as u16 as u64) << shift;
            m.zero |= (_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero)) as u16 as u64) << shift;
        }
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn classify(block: &[u8; BLOCK]) -> Masks {
    classify_portable(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_agrees_with_the_reference_on_every_byte_value() {
        // Every byte value at every position, mixed with the common ones.
        let common = b"0123456789, \n\r\t]x";
        for shift in 0..BLOCK {
            for v in 0..=255u8 {
                let mut block = [0u8; BLOCK];
                for (i, b) in block.iter_mut().enumerate() {
                    *b = common[(i * 7 + v as usize) % common.len()];
                }
                block[shift] = v;
                assert_eq!(
                    classify(&block),
                    classify_portable(&block),
                    "byte {v} at {shift}"
                );
            }
        }
    }

    #[test]
    fn masks_put_byte_i_at_bit_i() {
        let mut block = [b'x'; BLOCK];
        block[0] = b'7';
        block[1] = b',';
        block[63] = b'\n';
        let m = classify(&block);
        assert_eq!((m.digit, m.zero), (1, 0));
        assert_eq!(m.comma, 2);
        assert_eq!(m.space, 1 << 63);
    }
}
