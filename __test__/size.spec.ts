import test from 'ava'

import binding = require('../binding')
import { formatSize } from '../lib/cli/report/size'

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
  ]
  for (const [bytes, want] of cases) t.is(formatSize(bytes), want, String(bytes))
})

test('formatSize runs from its source alone, as the HTML report inlines it', (t) => {
  const inlined = new Function(`${formatSize}; return formatSize`)() as typeof formatSize
  t.is(inlined(2120), '2.07 kb')
  t.is(inlined(-(2 ** 63)), '-8.79609e+12 mb')
})

test('formatSize gives the binding’s formatSize (memstats’ format_size) for the same number', (t) => {
  const values: number[] = [NaN, Infinity, -Infinity, -0, 0.5, -0.5, 1024.9, 1025.1, 2 ** 70, -(2 ** 70)]
  let seed = 12345
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  for (let i = 0; i < 20000; i++) {
    const v = Math.floor(random() * 2 ** Math.floor(random() * 50))
    values.push(random() < 0.3 ? -v : v)
  }
  // Thresholds, and values whose digits tie (x.25 and x.75 mb round to even, as Rust formats).
  for (let k = 1000; k < 1100; k++) values.push(k, k * 1024, k * 1024 + 1, k * 1048576, k * 1048576 + 1)
  for (let m = 10000; m < 10200; m++) for (const f of [0.25, 0.5, 0.75]) values.push((m + f) * 1048576)
  for (let m = 1234560; m < 1234580; m++) values.push(m * 1048576)
  const differ = values.filter((v) => formatSize(v) !== binding.formatSize(v))
  t.deepEqual(
    differ.slice(0, 5).map((v) => [v, formatSize(v), binding.formatSize(v)]),
    [],
    `${differ.length} of ${values.length} differ`,
  )
})
