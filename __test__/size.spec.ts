import test from 'ava'

import memwatch = require('..')
import { formatSize } from '../lib/size'

// memwatch's own examples (crates/memstats' tests of the native `format_size` list the same).
test('formatSize words sizes as memwatch did', (t) => {
  const cases: Array<[number, string]> = [
    [0, '0 bytes'],
    [1024, '1024 bytes'],
    [-1024, '-1024 bytes'],
    [1025, '1 kb'],
    [2120, '2.07 kb'],
    [-2120, '-2.07 kb'],
    [-6760, '-6.6 kb'],
    [1_048_576, '1024 kb'],
    [1_048_577, '1 mb'],
    [1_869_904, '1.78 mb'],
    [2_119_136, '2.02 mb'],
    [249_232, '243.39 kb'],
    [239_952, '234.33 kb'],
    [123_456_789_012, '117738 mb'],
    [5 * 1024 ** 3, '5120 mb'],
    [2 ** 63, '8.79609e+12 mb'],
    [-(2 ** 63), '-8.79609e+12 mb'],
    // Ties round to even, as Rust's formatting does: 12345.25 mb to six digits.
    [12345.25 * 1024 * 1024, '12345.2 mb'],
    [12345.75 * 1024 * 1024, '12345.8 mb'],
  ]
  for (const [bytes, want] of cases) t.is(formatSize(bytes), want, String(bytes))
})

class Dropped {
  constructor(public n: number) {}
}

test('formatSize runs from its source alone, as the HTML report inlines it', (t) => {
  const inlined = new Function(`${formatSize}; return formatSize`)() as typeof formatSize
  t.is(inlined(2120), '2.07 kb')
  t.is(inlined(-(2 ** 63)), '-8.79609e+12 mb')
})

test('formatSize gives the native diff’s size strings for the same bytes', (t) => {
  const keep = Array.from({ length: 3000 }, (_, i) => ({ i, s: `item ${i}`.repeat(i % 7) }))
  let dropped: Dropped[] | null = Array.from({ length: 2000 }, (_, i) => new Dropped(i))
  const diff = new memwatch.HeapDiff()
  keep.push(...Array.from({ length: 3000 }, (_, i) => ({ i, s: `more ${i}`.repeat(i % 5) })))
  dropped = null
  const result = diff.end({ retainers: true })
  const pairs: Array<[number, string]> = [
    [result.before.size_bytes, result.before.size],
    [result.after.size_bytes, result.after.size],
    [result.change.size_bytes, result.change.size],
  ]
  for (const d of result.change.details) {
    pairs.push([d.size_bytes, d.size])
    if (d.retained_size_bytes !== undefined) pairs.push([d.retained_size_bytes, d.retained_size!])
  }
  t.true(pairs.length >= 10, `${pairs.length} sizes`)
  t.true(
    pairs.some(([b]) => Math.abs(b) > 1024 * 1024),
    'some above 1 MiB',
  )
  t.true(
    pairs.some(([b]) => b < 0),
    'some negative',
  )
  for (const [bytes, size] of pairs) t.is(formatSize(bytes), size, String(bytes))
  t.true(keep.length > 0 && dropped === null)
})
