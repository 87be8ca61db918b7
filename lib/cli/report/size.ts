/**
 * heapdiff's size wording for the report's browser code, which cannot call the native module:
 * the same strings as the binding's `formatSize` (memstats' `format_size`, which words every
 * `size` field and the report's text), checked against it by `__test__/size.spec.ts`.
 */

/**
 * memwatch's wording: `"N bytes"`, `"x.xx kb"` above 1 KiB, `"x.xx mb"` above 1 MiB (strictly
 * above: 1024 is `"1024 bytes"`), the number printed as a C++ stream prints a double (6
 * significant digits, trailing zeros dropped, `1.2e+06` past six digits), the sign kept.
 *
 * Self-contained (no helper, no import): the HTML report inlines its source for the browser.
 */
export function formatSize(bytes: number): string {
  // A whole number of bytes, as the binding's `bytes as i64` makes it (a chart's ticks need not
  // be one): toward zero, saturating, NaN as 0.
  const whole = Number.isNaN(bytes) ? 0 : Math.max(-(2 ** 63), Math.min(2 ** 63, Math.trunc(bytes)))
  const abs = Math.abs(whole)
  const unit = abs > 1024 * 1024 ? 'mb' : abs > 1024 ? 'kb' : null
  if (unit === null) return `${whole} bytes`
  // Rounded to two decimals (half away from zero), then to six significant digits with ties to
  // even, as Rust's float formatting rounds. The double's exact decimal expansion tells a tie
  // apart (toFixed with many digits is exact; toPrecision rounds ties away from zero); the
  // value is at least 1 here, so its first digit is the first significant one.
  const value = Math.round((abs / (unit === 'mb' ? 1024 * 1024 : 1024)) * 100) / 100
  const exact = value.toFixed(60)
  const point = exact.indexOf('.')
  const digits = exact.slice(0, point) + exact.slice(point + 1)
  let kept = Number(digits.slice(0, 6))
  const rest = digits.slice(6)
  if (rest[0] > '5' || (rest[0] === '5' && (/[1-9]/.test(rest.slice(1)) || kept % 2 === 1))) kept += 1
  let exp = point - 1
  if (kept === 1000000) {
    kept = 100000
    exp += 1
  }
  const six = String(kept)
  let text: string
  if (exp < 6) {
    const frac = six.slice(exp + 1).replace(/0+$/, '')
    text = six.slice(0, exp + 1) + (frac ? `.${frac}` : '')
  } else {
    const frac = six.slice(1).replace(/0+$/, '')
    text = `${six[0]}${frac ? `.${frac}` : ''}e+${String(exp).padStart(2, '0')}`
  }
  return `${whole < 0 ? '-' : ''}${text} ${unit}`
}
