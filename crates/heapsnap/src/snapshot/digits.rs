//! Finding and converting the numbers of a 64-byte window of an integer array at once.
//!
//! The `edges` array is about 60% of a snapshot, and every edge must be range-checked even when
//! none is kept. Converting its numbers one digit at a time (`IntArrayScanner::feed`) cost more
//! than the rest of a plain diff, so windows in V8's own layout (`12,3\n,45`) are located from
//! byte-class masks and converted without a branch per digit or per number: with AVX-512 (VBMI2)
//! four numbers per instruction sequence, elsewhere one 64-bit word of eight digits at a time.

use super::classify::{classify, Masks, BLOCK};

/// Numbers a window can hold (`0,0,...`), rounded so that the vector path can write whole groups.
pub(crate) const WINDOW_NUMBERS: usize = BLOCK / 2;

/// Bytes before a window that the converters read (a number may begin in them).
pub(crate) const BEHIND: usize = BLOCK;

/// The longest number a window converts; longer ones (never valid in `edges`) are left to the
/// general scanner, which also converts them exactly.
const MAX_WINDOW_DIGITS: usize = 16;

/// Where a window's numbers are, when it is in V8's layout.
#[derive(Debug, Clone, Copy)]
struct Layout {
    starts: u64,
    ends: u64,
    /// Bytes up to and including the window's last comma.
    used: usize,
}

/// A window that begins with a number and holds, up to its last comma, only numbers separated
/// by `,` with at most one whitespace byte before a comma; no number with a leading zero or of
/// more than 16 digits.
#[inline(always)]
fn layout(m: Masks) -> Option<Layout> {
    let c = m.comma;
    if c == 0 {
        return None;
    }
    let last = 63 - c.leading_zeros();
    let upto = if last == 63 {
        u64::MAX
    } else {
        (2u64 << last) - 1
    };
    let (d, w) = (m.digit & upto, m.space & upto);
    if d | c | w != upto {
        return None;
    }
    // Whitespace only between a number and its comma, commas only between numbers (the byte
    // after the last one is the next window's), and no number right after whitespace.
    let odd = (w & !(d << 1))
        | (w & !(c >> 1))
        | (c & !((d | w) << 1))
        | (c & !(d >> 1) & !(1u64 << last))
        | (d & (w << 1));
    let starts = d & !(d << 1);
    let ends = d & !(d >> 1);
    let r2 = d & (d >> 1);
    let r4 = r2 & (r2 >> 2);
    let r8 = r4 & (r4 >> 4);
    let r17 = r8 & (r8 >> 8) & (d >> 16);
    if odd | (starts & m.zero & (d >> 1)) | r17 != 0 {
        return None;
    }
    Some(Layout {
        starts,
        ends,
        used: last as usize + 1,
    })
}

/// Converts the numbers of `window` into `out` when it is in V8's layout (see `layout`) and
/// returns the bytes used (up to and including its last comma) and how many numbers there
/// were; `None` for any other window. `behind` holds the bytes preceding the window.
#[inline]
pub(crate) fn window_numbers(
    behind: &[u8; BEHIND],
    window: &[u8; BLOCK],
    out: &mut [u64; WINDOW_NUMBERS],
    vector: bool,
) -> Option<(usize, usize)> {
    #[cfg(target_arch = "x86_64")]
    if vector {
        // SAFETY: `vector` is only true when `has_vector_path` found the CPU features.
        return unsafe { avx512::window_numbers(behind, window, out) };
    }
    let _ = vector;
    portable(behind, window, out)
}

/// For skipped integer arrays (`locations`, `trace_tree`): when `window` begins with a number
/// and is in V8's layout up to its last comma (see `layout`), the bytes up to and including that
/// comma, which are then valid JSON array elements; `None` for any other window.
#[inline]
pub(crate) fn integer_run(window: &[u8; BLOCK]) -> Option<usize> {
    layout(classify(window)).map(|l| l.used)
}

/// Whether this CPU runs the AVX-512 converter.
pub(crate) fn has_vector_path() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vbmi")
            && std::arch::is_x86_feature_detected!("avx512vbmi2")
            && std::arch::is_x86_feature_detected!("popcnt")
            && std::arch::is_x86_feature_detected!("lzcnt")
            && std::arch::is_x86_feature_detected!("bmi1")
            && std::arch::is_x86_feature_detected!("bmi2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The masks keeping the last `len` bytes of a little-endian word (the number's digits when the
/// word ends at its last digit), for the low eight digits and the eight before them.
const LOW_DIGITS: [u64; 17] = {
    let mut m = [0u64; 17];
    let mut len = 1;
    while len <= 16 {
        let k = if len > 8 { 8 } else { len };
        m[len] = u64::MAX << (8 * (8 - k));
        len += 1;
    }
    m
};
const HIGH_DIGITS: [u64; 17] = {
    let mut m = [0u64; 17];
    let mut len = 9;
    while len <= 16 {
        m[len] = u64::MAX << (8 * (16 - len));
        len += 1;
    }
    m
};

/// The value of up to eight ASCII digits in a little-endian word, most significant first; bytes
/// outside `mask` count as leading zeros.
#[inline(always)]
fn eight_digits(word: u64, mask: u64) -> u64 {
    let v = (word ^ 0x3030_3030_3030_3030) & mask;
    // Pairs, then quads, then all eight: three multiplies instead of a loop over the digits.
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    ((v & 0x0000_00FF_0000_00FF)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32))))
        >> 32
}

fn portable(
    behind: &[u8; BEHIND],
    window: &[u8; BLOCK],
    out: &mut [u64; WINDOW_NUMBERS],
) -> Option<(usize, usize)> {
    let l = layout(classify(window))?;
    // The window with 16 bytes before it, so that any number's last 16 bytes can be read.
    let mut bytes = [0u8; 16 + BLOCK];
    bytes[..16].copy_from_slice(&behind[BEHIND - 16..]);
    bytes[16..].copy_from_slice(window);
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let count = l.starts.count_ones() as usize;
    let (mut s, mut e) = (l.starts, l.ends);
    for slot in out.iter_mut().take(count) {
        let (first, end) = (s.trailing_zeros() as usize, e.trailing_zeros() as usize);
        s &= s - 1;
        e &= e - 1;
        let len = end + 1 - first;
        debug_assert!(len <= MAX_WINDOW_DIGITS);
        // The word ending at the last digit starts at byte end+9 of `bytes` (16 bytes ahead).
        let low = eight_digits(word(end + 9), LOW_DIGITS[len]);
        let high = eight_digits(word(end + 1), HIGH_DIGITS[len]);
        *slot = high * 100_000_000 + low;
    }
    Some((l.used, count))
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::*;
    use std::arch::x86_64::*;

    #[repr(align(64))]
    struct Bytes([u8; 64]);

    /// 0, 1, ..., 63: byte positions, for compressing a mask into a list of positions.
    static IOTA: Bytes = {
        let mut b = [0u8; 64];
        let mut i = 0;
        while i < 64 {
            b[i] = i as u8;
            i += 1;
        }
        Bytes(b)
    };
    /// Byte `j` of each 16-byte slot: 0..15 four times.
    static SLOT_BYTE: Bytes = {
        let mut b = [0u8; 64];
        let mut i = 0;
        while i < 64 {
            b[i] = (i % 16) as u8;
            i += 1;
        }
        Bytes(b)
    };
    /// Which of four numbers each slot holds: 0 sixteen times, then 1, 2, 3.
    static SLOT: Bytes = {
        let mut b = [0u8; 64];
        let mut i = 0;
        while i < 64 {
            b[i] = (i / 16) as u8;
            i += 1;
        }
        Bytes(b)
    };

    /// Four numbers per pass: each 16-byte slot gathers the 16 bytes ending at one number's
    /// last digit (from the window and the bytes behind it), bytes before the number are
    /// zeroed, and multiply-adds fold digits into pairs, quads, eights and the value.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,popcnt,lzcnt,bmi1,bmi2")]
    pub(super) unsafe fn window_numbers(
        behind: &[u8; BEHIND],
        window: &[u8; BLOCK],
        out: &mut [u64; WINDOW_NUMBERS],
    ) -> Option<(usize, usize)> {
        let win = _mm512_loadu_si512(window.as_ptr().cast());
        let digit_mask = _mm512_cmplt_epu8_mask(
            _mm512_sub_epi8(win, _mm512_set1_epi8(b'0' as i8)),
            _mm512_set1_epi8(10),
        );
        let eq = |b: u8| _mm512_cmpeq_epi8_mask(win, _mm512_set1_epi8(b as i8));
        let m = Masks {
            digit: digit_mask,
            comma: eq(b','),
            space: eq(b' ') | eq(b'\n') | eq(b'\r') | eq(b'\t'),
            zero: eq(b'0'),
        };
        let l = layout(m)?;
        let count = l.starts.count_ones() as usize;
        let prev = _mm512_loadu_si512(behind.as_ptr().cast());
        let iota = _mm512_load_si512(IOTA.0.as_ptr().cast());
        let ends = _mm512_maskz_compress_epi8(l.ends, iota);
        // Length minus one, per number.
        let lens = _mm512_sub_epi8(ends, _mm512_maskz_compress_epi8(l.starts, iota));
        let slot_byte = _mm512_load_si512(SLOT_BYTE.0.as_ptr().cast());
        let slot = _mm512_load_si512(SLOT.0.as_ptr().cast());
        // Index into (behind, window) of byte j of the slot for a number ending at e:
        // 64 + e - 15 + j.
        let offset = _mm512_add_epi8(slot_byte, _mm512_set1_epi8(64 - 15));
        let pairs = _mm512_set1_epi16(0x010a); // bytes 10, 1
        let quads = _mm512_set1_epi32(0x0001_0064); // words 100, 1
        let eights = _mm512_set1_epi32(0x0001_2710); // words 10000, 1
        let hundred_million = _mm512_set1_epi64(100_000_000);
        let zero_char = _mm512_set1_epi8(b'0' as i8);
        let fourteen = _mm512_set1_epi8(14);
        let group = |g: usize| {
            let which = _mm512_add_epi8(slot, _mm512_set1_epi8(g as i8));
            let end = _mm512_permutexvar_epi8(which, ends);
            let len = _mm512_permutexvar_epi8(which, lens);
            let idx = _mm512_add_epi8(end, offset);
            let bytes = _mm512_permutex2var_epi8(prev, idx, win);
            // Keep byte j when j + len - 1 > 14, i.e. j >= 16 - len.
            let keep = _mm512_cmpgt_epu8_mask(_mm512_add_epi8(slot_byte, len), fourteen);
            let d = _mm512_maskz_sub_epi8(keep, bytes, zero_char);
            let t = _mm512_maddubs_epi16(d, pairs);
            let t = _mm512_madd_epi16(t, quads);
            let t = _mm512_packus_epi32(t, t);
            let t = _mm512_madd_epi16(t, eights);
            let v = _mm512_add_epi64(
                _mm512_mul_epu32(t, hundred_million),
                _mm512_srli_epi64(t, 32),
            );
            _mm512_castsi512_si256(_mm512_maskz_compress_epi64(0x55, v))
        };
        // Three groups always (a window of `edges` holds about ten numbers), without a
        // branch on the count; more for windows of short numbers.
        let (a, b, c) = (group(0), group(4), group(8));
        let dst = out.as_mut_ptr();
        _mm256_storeu_si256(dst.cast(), a);
        _mm256_storeu_si256(dst.add(4).cast(), b);
        _mm256_storeu_si256(dst.add(8).cast(), c);
        let mut g = 12;
        while g < count {
            _mm256_storeu_si256(dst.add(g).cast(), group(g));
            g += 4;
        }
        Some((l.used, count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_digit_words() {
        for v in [0u64, 7, 12, 305, 4096, 99_999_999, 12_345_678, 10_000_001] {
            let text = format!("{v:>8}");
            let len = v.to_string().len();
            let word = u64::from_le_bytes(text.as_bytes().try_into().unwrap());
            assert_eq!(eight_digits(word, LOW_DIGITS[len]), v, "{text}");
        }
    }

    /// Random windows in and out of V8's layout: both converters agree with a plain reading of
    /// the text (or both refuse the window).
    #[test]
    fn converters_agree_with_the_text() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut below = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let vector = has_vector_path();
        if !vector {
            eprintln!("NOTE: no AVX-512 VBMI2 here; only the portable converter is tested");
        }
        let mut taken = 0;
        for round in 0..20_000 {
            let mut text = Vec::new();
            let mut want = Vec::new();
            while text.len() < 64 + 64 + 20 {
                let len = 1 + below(if round % 3 == 0 { 16 } else { 10 }) as u32;
                let v = if len == 1 {
                    below(10)
                } else {
                    10u64.pow(len - 1) + below(9 * 10u64.pow(len - 1))
                };
                want.push(v);
                text.extend_from_slice(v.to_string().as_bytes());
                text.extend_from_slice(match below(8) {
                    0 => b"\n,",
                    1 if round % 5 == 0 => b" ,",
                    2 if round % 7 == 0 => b",,",
                    3 if round % 11 == 0 => b"00,",
                    _ => b",",
                });
            }
            // A window starting at the first number at or after byte 64.
            let mut start = 64;
            while !(text[start - 1] == b',' && text[start].is_ascii_digit()) {
                start += 1;
            }
            let behind: &[u8; 64] = text[start - 64..start].try_into().unwrap();
            let window: &[u8; 64] = text[start..start + 64].try_into().unwrap();
            let mut a = [0u64; WINDOW_NUMBERS];
            let got = portable(behind, window, &mut a);
            if vector {
                let mut b = [0u64; WINDOW_NUMBERS];
                let got_v = window_numbers(behind, window, &mut b, true);
                assert_eq!(got, got_v, "round {round}");
                if let Some((_, count)) = got {
                    assert_eq!(a[..count], b[..count], "round {round}");
                }
            }
            if let Some((used, count)) = got {
                taken += 1;
                let expect: Vec<u64> = std::str::from_utf8(&window[..used - 1])
                    .unwrap()
                    .split(',')
                    .map(|s| s.trim().parse().unwrap())
                    .collect();
                assert_eq!(a[..count], expect[..], "round {round}");
            }
        }
        assert!(taken > 5_000, "{taken}");
    }
}
