//! Finding and converting the numbers of 64-byte windows of an integer array at once.
//!
//! The `edges` array is about 60% of a snapshot, and every edge must be range-checked even when
//! none is kept. Converting its numbers one digit at a time (`IntArrayScanner::feed`) cost more
//! than the rest of a plain diff, so windows in V8's own layout (`12,3\n,45`) are located from
//! byte-class masks and converted without a branch per digit or per number (with AVX-512 VBMI2
//! eight numbers per instruction sequence, elsewhere one 64-bit word of eight digits at a time),
//! and a whole run of windows at once, so that the sink checks thousands of numbers per call.

use super::classify::{classify, Masks, BLOCK};

/// Numbers a window can hold (`0,0,...`).
pub(crate) const WINDOW_NUMBERS: usize = BLOCK / 2;

/// Numbers after which `run_numbers` stops taking windows, so that a sink checks a few thousand
/// at a time (its per-call work is then negligible) while they are still in the cache.
pub(crate) const RUN_NUMBERS: usize = 2048;

/// Room `run_numbers` needs: a run may end with a window's worth past `RUN_NUMBERS`, and the
/// vector path writes whole groups of eight.
pub(crate) const RUN_CAPACITY: usize = RUN_NUMBERS + WINDOW_NUMBERS + 8;

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
    /// Some number has more than eight digits (the vector path converts such windows otherwise).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    long: bool,
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
        long: r8 & (d >> 8) != 0,
    })
}

/// Converts the numbers of consecutive windows at the start of `buf` (which must begin with a
/// number) into `out`, for as long as each window is in V8's layout (see `layout`) and at most
/// about `RUN_NUMBERS` numbers; returns the bytes used (up to and including the last window's
/// last comma) and how many numbers there were, `(0, 0)` when the first window is not in that
/// layout. A whole run at once leaves the sink one call and one check per few thousand numbers,
/// where a call per window cost more than the conversion.
#[inline]
pub(crate) fn run_numbers(
    buf: &[u8],
    out: &mut [u64; RUN_CAPACITY],
    vector: bool,
) -> (usize, usize) {
    #[cfg(target_arch = "x86_64")]
    if vector {
        // SAFETY: `vector` is only true when `has_vector_path` found the CPU features.
        return unsafe { avx512::run_numbers(buf, out) };
    }
    let _ = vector;
    let (mut used, mut count) = (0, 0);
    while count < RUN_NUMBERS && buf.len() - used >= BLOCK {
        let window: &[u8; BLOCK] = buf[used..used + BLOCK].try_into().expect("window fits");
        let slots: &mut [u64; WINDOW_NUMBERS] = (&mut out[count..count + WINDOW_NUMBERS])
            .try_into()
            .expect("room for a window");
        let Some((u, c)) = portable(window, slots) else {
            break;
        };
        used += u;
        count += c;
    }
    (used, count)
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

/// One window's numbers, one 64-bit word of eight digits at a time; `(used, count)` as for a
/// run of one window.
fn portable(window: &[u8; BLOCK], out: &mut [u64; WINDOW_NUMBERS]) -> Option<(usize, usize)> {
    let l = layout(classify(window))?;
    // The window with 16 bytes before it, so that any number's last 16 bytes can be read; the
    // masks drop the bytes before a number, so those 16 can be anything.
    let mut bytes = [0u8; 16 + BLOCK];
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

    /// The 64 bytes `f(0), ..., f(63)`.
    macro_rules! table {
        (|$i:ident| $f:expr) => {{
            let mut b = [0u8; 64];
            let mut $i = 0usize;
            while $i < 64 {
                b[$i] = $f;
                $i += 1;
            }
            Bytes(b)
        }};
    }

    /// 0, 1, ..., 63: byte positions, for compressing a mask into a list of positions.
    static IOTA: Bytes = table!(|i| i as u8);
    /// Per byte value modulo 64, the whitespace byte with that remainder, and for the others a
    /// byte with another remainder, so that a byte equals its entry exactly when it is JSON
    /// whitespace: one permute and one compare instead of four compares.
    static SPACE: Bytes = table!(|i| match i {
        0x09 | 0x0a | 0x0d | 0x20 => i as u8,
        _ => (i as u8 + 1) & 63,
    });
    /// Eight-byte slots: which number slot `k` holds (`k`, eight times), and byte `j` of a slot
    /// as an offset from the number's last digit (`j - 7`).
    static SLOT8: Bytes = table!(|i| (i / 8) as u8);
    static BYTE8: Bytes = table!(|i| ((i % 8) as u8).wrapping_sub(7));
    /// Sixteen-byte slots, four numbers per vector: the same for numbers of up to 16 digits.
    static SLOT16: Bytes = table!(|i| (i / 16) as u8);
    static BYTE16: Bytes = table!(|i| ((i % 16) as u8).wrapping_sub(15));

    /// See `super::run_numbers`. Each number is gathered into a slot that ends at its last digit
    /// (eight bytes, or sixteen in windows holding a longer number), the bytes before its first
    /// digit zeroed, and multiply-adds fold the digits into pairs, quads and the value.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,popcnt,lzcnt,bmi1,bmi2")]
    pub(super) unsafe fn run_numbers(buf: &[u8], out: &mut [u64; RUN_CAPACITY]) -> (usize, usize) {
        let iota = _mm512_load_si512(IOTA.0.as_ptr().cast());
        let space = _mm512_load_si512(SPACE.0.as_ptr().cast());
        let slot8 = _mm512_load_si512(SLOT8.0.as_ptr().cast());
        let byte8 = _mm512_load_si512(BYTE8.0.as_ptr().cast());
        let slot16 = _mm512_load_si512(SLOT16.0.as_ptr().cast());
        let byte16 = _mm512_load_si512(BYTE16.0.as_ptr().cast());
        let zero_char = _mm512_set1_epi8(b'0' as i8);
        let ten = _mm512_set1_epi8(10);
        let comma = _mm512_set1_epi8(b',' as i8);
        let pairs = _mm512_set1_epi16(0x010a); // bytes 10, 1
        let quads = _mm512_set1_epi32(0x0001_0064); // words 100, 1
        let eights = _mm512_set1_epi32(0x0001_2710); // words 10000, 1
        let ten_thousand = _mm512_set1_epi64(10_000);
        let hundred_million = _mm512_set1_epi64(100_000_000);
        let dst = out.as_mut_ptr();
        let (mut used, mut count) = (0usize, 0usize);
        while count < RUN_NUMBERS && buf.len() - used >= BLOCK {
            let win = _mm512_loadu_si512(buf.as_ptr().add(used).cast());
            let digits = _mm512_sub_epi8(win, zero_char);
            let m = Masks {
                digit: _mm512_cmplt_epu8_mask(digits, ten),
                comma: _mm512_cmpeq_epi8_mask(win, comma),
                space: _mm512_cmpeq_epi8_mask(_mm512_permutexvar_epi8(win, space), win),
                zero: _mm512_cmpeq_epi8_mask(win, zero_char),
            };
            let Some(l) = layout(m) else {
                break;
            };
            let n = l.starts.count_ones() as usize;
            let ends = _mm512_maskz_compress_epi8(l.ends, iota);
            let starts = _mm512_maskz_compress_epi8(l.starts, iota);
            let at = dst.add(count);
            // Slot byte j of the number in slot k is window byte `end[k] - 7 + j` (or 15), kept
            // when at or after `start[k]`; the others, before the window included, read as 0.
            // The slots of numbers `g..`, folded into four-digit values in 32-bit lanes.
            let quads_of = |slot: __m512i, byte: __m512i, g: i8| {
                let which = _mm512_add_epi8(slot, _mm512_set1_epi8(g));
                let idx = _mm512_add_epi8(_mm512_permutexvar_epi8(which, ends), byte);
                let keep = _mm512_cmpge_epi8_mask(idx, _mm512_permutexvar_epi8(which, starts));
                let d = _mm512_maskz_permutexvar_epi8(keep, idx, digits);
                _mm512_madd_epi16(_mm512_maddubs_epi16(d, pairs), quads)
            };
            if !l.long {
                let group = |g: i8| {
                    let t = quads_of(slot8, byte8, g);
                    // Each 64-bit lane: the first four digits below, the last four above.
                    _mm512_add_epi64(_mm512_mul_epu32(t, ten_thousand), _mm512_srli_epi64(t, 32))
                };
                // Two groups always (a window of `edges` holds about ten numbers), without a
                // branch on the count; more for windows of short numbers.
                _mm512_storeu_si512(at.cast(), group(0));
                _mm512_storeu_si512(at.add(8).cast(), group(8));
                let mut g = 16;
                while g < n {
                    _mm512_storeu_si512(at.add(g).cast(), group(g as i8));
                    g += 8;
                }
            } else {
                let group = |g: i8| {
                    let t = quads_of(slot16, byte16, g);
                    let t = _mm512_madd_epi16(_mm512_packus_epi32(t, t), eights);
                    let v = _mm512_add_epi64(
                        _mm512_mul_epu32(t, hundred_million),
                        _mm512_srli_epi64(t, 32),
                    );
                    _mm512_castsi512_si256(_mm512_maskz_compress_epi64(0x55, v))
                };
                let mut g = 0;
                while g < n {
                    _mm256_storeu_si256(at.add(g).cast(), group(g as i8));
                    g += 4;
                }
            }
            used += l.used;
            count += n;
        }
        (used, count)
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

    /// Random runs of windows in and out of V8's layout: both converters take the same bytes and
    /// agree with a plain reading of the text, and a run ends only where it must.
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
        let (mut taken, mut long_runs) = (0, 0);
        for round in 0..4_000 {
            let mut text = Vec::new();
            let size = 64 + below(if round % 10 == 0 { 20_000 } else { 1_000 }) as usize;
            // Rounds of short numbers (nodes' fields, early edges), of up to 16 digits, and of
            // a mix, with now and then a byte that ends a run.
            let longest = [3, 9, 16, 8][round % 4];
            let odd = round % 3 == 0;
            while text.len() < size {
                let len = 1 + below(longest) as u32;
                let v = if len == 1 {
                    below(10)
                } else {
                    10u64.pow(len - 1) + below(9 * 10u64.pow(len - 1))
                };
                text.extend_from_slice(v.to_string().as_bytes());
                text.extend_from_slice(match below(if odd { 60 } else { 8 }) {
                    0 => b"\n,",
                    1 if odd => b" ,",
                    2 if odd => b",,",
                    3 if odd => b"00,",
                    4 if odd => b"\r\n,",
                    5 if odd => b"x,",
                    _ => b",",
                });
            }
            let mut a = [0u64; RUN_CAPACITY];
            let (used, count) = run_numbers(&text, &mut a, false);
            if vector {
                let mut b = [0u64; RUN_CAPACITY];
                let got_v = run_numbers(&text, &mut b, true);
                assert_eq!((used, count), got_v, "round {round}");
                assert_eq!(a[..count], b[..count], "round {round}");
            }
            if count == 0 {
                assert_eq!(used, 0);
            } else {
                taken += 1;
                long_runs += usize::from(used > 64 * 4);
                assert_eq!(text[used - 1], b',', "round {round}");
                let expect: Vec<u64> = std::str::from_utf8(&text[..used - 1])
                    .unwrap()
                    .split(',')
                    .map(|s| s.trim().parse().unwrap())
                    .collect();
                assert_eq!(a[..count], expect[..], "round {round}");
            }
            // Where the run ended, the next window is refused, too short, or past the limit.
            let rest = &text[used..];
            if count < RUN_NUMBERS && rest.len() >= BLOCK {
                let mut one = [0u64; WINDOW_NUMBERS];
                assert!(
                    portable(rest[..BLOCK].try_into().unwrap(), &mut one).is_none(),
                    "round {round}: stopped at {used} before a good window"
                );
            }
        }
        assert!(taken > 2_000 && long_runs > 500, "{taken} {long_runs}");
    }
}
