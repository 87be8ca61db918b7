//! Cutting the flat `nodes` and `edges` arrays into records, and the constant-divisor arithmetic
//! their fields need (to_node is a field offset). Its own module so that both the builder and
//! the sinks can use it, with dependencies pointing one way: builder -> sinks -> records.

use super::meta::MAX_FIELDS;

/// Division by the node width, which every edge needs (to_node is a field offset). A hardware
/// divide per edge showed up in profiles; a multiply by the reciprocal plus a correction does not.
#[derive(Debug, Clone, Copy)]
pub(super) struct Divisor {
    pub(super) d: u64,
    recip: u64,
}

impl Divisor {
    pub(super) fn new(d: u64) -> Self {
        Divisor {
            d,
            recip: u64::MAX / d,
        }
    }

    /// `(n / d, n % d)`. The estimate from the reciprocal is at most 2 below the quotient.
    #[inline]
    pub(super) fn div_rem(self, n: u64) -> (u64, u64) {
        let mut q = ((u128::from(n) * u128::from(self.recip)) >> 64) as u64;
        let mut r = n - q * self.d;
        while r >= self.d {
            q += 1;
            r -= self.d;
        }
        (q, r)
    }
}

/// Divisibility by a constant with one multiply (Granlund and Montgomery): with `d = odd << k`,
/// `n` is a multiple of `d` exactly when `n * odd⁻¹ mod 2^64`, rotated right by `k`, is at most
/// `u64::MAX / d`. No data-dependent branch, unlike `%` or `Divisor::div_rem`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Multiple {
    inverse: u64,
    shift: u32,
    pub(super) max: u64,
}

impl Multiple {
    pub(super) fn new(d: u64) -> Self {
        let shift = d.trailing_zeros();
        let odd = d >> shift;
        // Newton's iteration doubles the correct low bits each step: 3 (odd² ≡ 1 mod 8), 6, ..., 96.
        let mut inverse = odd;
        for _ in 0..5 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(inverse)));
        }
        Multiple {
            inverse,
            shift,
            max: u64::MAX / d,
        }
    }

    /// The rotated product above: at most `max` exactly when `d` divides `n`, and then `n / d`.
    #[inline(always)]
    pub(super) fn quotient(self, n: u64) -> u64 {
        n.wrapping_mul(self.inverse).rotate_right(self.shift)
    }
}

/// Collects the fields of one flat-array record (a node or an edge) as the integers stream by.
#[derive(Debug)]
pub(super) struct RecordBuf {
    pub(super) vals: [u64; MAX_FIELDS],
    width: usize,
    pub(super) field: usize,
}

impl RecordBuf {
    pub(super) fn new(width: usize) -> Self {
        RecordBuf {
            vals: [0; MAX_FIELDS],
            width,
            field: 0,
        }
    }

    /// Stores the next field; true when that completed a record (now in `vals`).
    #[inline(always)]
    pub(super) fn push(&mut self, value: u64) -> bool {
        self.vals[self.field] = value;
        self.field += 1;
        if self.field == self.width {
            self.field = 0;
            true
        } else {
            false
        }
    }

    /// Cuts a batch of the array's next numbers at record boundaries, without taking them.
    pub(super) fn cut<'a>(&self, values: &'a [u64]) -> Records<'a> {
        let (width, field) = (self.width, self.field);
        // The record left open by the last batch, completed from the front of this one.
        let head = if field == 0 {
            0
        } else {
            (width - field).min(values.len())
        };
        let mut first = self.vals;
        first[field..field + head].copy_from_slice(&values[..head]);
        let first_done = field != 0 && field + head == width;
        let rest = &values[head..];
        let (whole, tail) = rest.split_at(rest.len() / width * width);
        let open = if field != 0 && !first_done {
            (first, field + head)
        } else {
            let mut vals = self.vals;
            vals[..tail.len()].copy_from_slice(tail);
            (vals, tail.len())
        };
        Records {
            first: first_done.then_some(first),
            width,
            whole,
            open,
        }
    }

    /// Takes the batch `cut` made: what it leaves open waits for the next one.
    pub(super) fn take(&mut self, records: &Records<'_>) {
        (self.vals, self.field) = records.open;
    }
}

/// A batch of numbers cut into records (`RecordBuf::cut`).
pub(super) struct Records<'a> {
    /// The record the last batch left open, when this one completes it.
    pub(super) first: Option<[u64; MAX_FIELDS]>,
    width: usize,
    /// The records the batch holds whole, end to end.
    pub(super) whole: &'a [u64],
    /// The record open after the batch: its fields, and how many of them are set.
    open: ([u64; MAX_FIELDS], usize),
}

impl Records<'_> {
    /// Every record the batch completes, in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &[u64]> + Clone {
        let first = self.first.as_ref().map(|f| &f[..self.width]);
        first.into_iter().chain(self.whole.chunks_exact(self.width))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reciprocal_division_is_exact() {
        for d in 1..=64u64 {
            let div = Divisor::new(d);
            let samples = (0..2000u64)
                .chain([u64::MAX, u64::MAX - 1, u64::MAX / 2, 1 << 63, (1 << 40) + 7])
                .chain((0..64).map(|k| (1u64 << k).wrapping_mul(d).wrapping_sub(1)));
            for n in samples {
                assert_eq!(div.div_rem(n), (n / d, n % d), "{n} / {d}");
            }
        }
    }
}
