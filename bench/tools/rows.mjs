// A digest of a comparison's rows (class, #New, #Deleted, Alloc. Size, Freed Size), so that two
// tools' rows can be compared across processes: equal digests, equal rows.
import { createHash } from 'node:crypto'

/** `rows`: [name, new, deleted, alloc, freed][]; rows of one name are summed first. */
export function rowDigest(rows) {
  const by = new Map()
  for (const [name, ...v] of rows) {
    const r = by.get(name) ?? [0, 0, 0, 0]
    by.set(
      name,
      r.map((x, i) => x + v[i]),
    )
  }
  const sorted = [...by].filter(([, r]) => r[0] + r[1] > 0).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16)
}
