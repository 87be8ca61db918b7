//! Size, duration and rate strings exactly as classic memwatch printed them.
//!
//! Old clients parse or compare these strings (`'243.39 kb'`, `'20s'`), so the rules below follow
//! the original C++ output byte for byte, including its quirks: thresholds are strict ("above
//! 1 KiB"), and numbers print like a C++ stream with default precision (6 significant digits,
//! trailing zeros dropped).

const KIB: f64 = 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// `"N bytes"`, `"x.xx kb"` above 1 KiB, `"x.xx mb"` above 1 MiB; the sign is kept.
pub fn format_size(bytes: i64) -> String {
    let abs = bytes.unsigned_abs() as f64;
    let sign = if bytes < 0 { -1.0 } else { 1.0 };
    if abs > MIB {
        format!("{} mb", stream_number(sign * round2(abs / MIB)))
    } else if abs > KIB {
        format!("{} kb", stream_number(sign * round2(abs / KIB)))
    } else {
        format!("{bytes} bytes")
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Prints `v` as `std::ostream << double` does with default flags: `%g` with precision 6.
fn stream_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    const PRECISION: i32 = 6;
    // The exponent %g uses is that of the value *after* rounding to 6 significant digits.
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, v);
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    if !(-4..PRECISION).contains(&exp) {
        let m = strip_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (PRECISION - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{v:.decimals$}")).to_owned()
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// `"20s"`, `"3m 20s"`, `"1h 2m 5s"`. Hours appear only above 3600 s and minutes only above
/// 60 s (so 60 is `"60s"` and 3601 is `"1h 1s"`), as in the original.
pub(crate) fn format_duration(secs: u64) -> String {
    let mut rest = secs;
    let mut out = String::new();
    if rest > 3600 {
        out.push_str(&format!("{}h ", rest / 3600));
        rest %= 3600;
    }
    if rest > 60 {
        out.push_str(&format!("{}m ", rest / 60));
        rest %= 60;
    }
    out.push_str(&format!("{rest}s"));
    out
}

/// `"<size>/hr"` for `bytes` gained over `duration_ms`. A zero duration counts as 1 ms: the
/// original divided by whole seconds and printed `-2147483648 bytes/hr` when all GCs fell within
/// one second.
pub(crate) fn format_rate(bytes: i64, duration_ms: u64) -> String {
    let hours = duration_ms.max(1) as f64 / 3_600_000.0;
    let per_hour = bytes as f64 / hours;
    let clamped = per_hour.clamp(i64::MIN as f64, i64::MAX as f64) as i64;
    format!("{}/hr", format_size(clamped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_the_classic_examples() {
        for (bytes, want) in [
            (0, "0 bytes"),
            (1024, "1024 bytes"),
            (-1024, "-1024 bytes"),
            (1025, "1 kb"),
            (2120, "2.07 kb"),
            (-2120, "-2.07 kb"),
            (-6760, "-6.6 kb"),
            (1_048_576, "1024 kb"),
            (1_048_577, "1 mb"),
            (1_869_904, "1.78 mb"),
            (2_119_136, "2.02 mb"),
            (249_232, "243.39 kb"),
            (239_952, "234.33 kb"),
        ] {
            assert_eq!(format_size(bytes), want, "{bytes}");
        }
    }

    #[test]
    fn huge_sizes_use_six_significant_digits() {
        // 117737.73 mb rounds to six significant digits like a C++ stream.
        assert_eq!(format_size(123_456_789_012), "117738 mb");
        assert_eq!(format_size(5 * 1024 * 1024 * 1024), "5120 mb");
        // Past 1e6 mb a stream switches to scientific notation.
        assert_eq!(format_size(i64::MAX), "8.79609e+12 mb");
        assert_eq!(format_size(i64::MIN), "-8.79609e+12 mb");
    }

    #[test]
    fn stream_number_behaves_like_percent_g() {
        assert_eq!(stream_number(2.5), "2.5");
        assert_eq!(stream_number(100.0), "100");
        assert_eq!(stream_number(999999.5), "1e+06");
        assert_eq!(stream_number(0.0001), "0.0001");
        assert_eq!(stream_number(0.00001), "1e-05");
        assert_eq!(stream_number(-12.345), "-12.345");
    }

    #[test]
    fn durations_match_the_classic_examples() {
        for (secs, want) in [
            (0, "0s"),
            (20, "20s"),
            (60, "60s"),
            (61, "1m 1s"),
            (200, "3m 20s"),
            (3600, "60m 0s"),
            (3601, "1h 1s"),
            (3725, "1h 2m 5s"),
        ] {
            assert_eq!(format_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn rates_never_divide_by_zero() {
        // 67984 bytes over 20 s, the seed README's example, is 11.67 mb/hr.
        assert_eq!(format_rate(67_984 * 20 / 20, 20_000), "11.67 mb/hr");
        assert_eq!(format_rate(1000, 0), "3433.23 mb/hr");
        assert_eq!(format_rate(-2048, 3_600_000), "-2 kb/hr");
    }

    #[test]
    fn fast_rates_print_in_the_streams_exponent_form() {
        // 300 MiB in one second is 1,080,000 mb/hr: seven digits, past %g's six.
        assert_eq!(format_rate(300 << 20, 1000), "1.08e+06 mb/hr");
        // 305.5 MiB in one second: 1,099,800, rounded to six significant digits.
        assert_eq!(format_rate(611 << 19, 1000), "1.0998e+06 mb/hr");
    }
}
