/**
 * Argument checking for the public API: unknown names, wrong types and out-of-range values
 * become a TypeError or RangeError that names the option, before anything reaches Rust.
 */

/** Knobs of the leak rule; every one is optional and defaults as documented in the README. */
export interface LeakOptions {
  /** `'trend'` (default: regression over a window, fewer false alarms) or `'classic'` (memwatch's streak rule). */
  rule?: 'trend' | 'classic'
  /** Classic rule: consecutive growing full GCs before a report (default 5). */
  consecutiveGrowth?: number
  /** Trend rule: full GCs in the regression window (default 10, at least 3). */
  window?: number
  /** Trend rule: bytes the window must grow at least (default 256 KiB). */
  minGrowth?: number
  /** Trend rule: t-statistic the growth slope must reach (default 3). */
  significance?: number
  /** Fast path: growing full GCs in a row that can report a runaway heap (default 3; 0 = off). */
  fastGcs?: number
  /** Fast path: bytes of growth required (default 64 MiB). */
  fastMinGrowth?: number
  /** Fast path: growth as a fraction of the starting heap (default 1 = doubled). */
  fastMinRatio?: number
}

export interface DiffOptions {
  /** `'classic'` groups like memwatch (`what` = constructor or type); `'devtools'` like Chrome DevTools. */
  grouping?: 'classic' | 'devtools'
}

type Kind = 'int' | 'number' | 'bytes'

const LEAK_NUMERIC: Record<Exclude<keyof LeakOptions, 'rule'>, { kind: Kind; min: number }> = {
  consecutiveGrowth: { kind: 'int', min: 1 },
  window: { kind: 'int', min: 3 },
  minGrowth: { kind: 'bytes', min: 0 },
  significance: { kind: 'number', min: Number.MIN_VALUE },
  fastGcs: { kind: 'int', min: 0 },
  fastMinGrowth: { kind: 'bytes', min: 0 },
  fastMinRatio: { kind: 'number', min: 0 },
}

function checkObject(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${describe(value)}`)
  }
  return value as Record<string, unknown>
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`
  return `${typeof v} ${String(v)}`
}

function unknownKeys(name: string, obj: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw new TypeError(`unknown ${name} option ${JSON.stringify(key)}; known options: ${known.join(', ')}`)
    }
  }
}

export function checkLeakOptions(options: unknown): LeakOptions {
  const obj = checkObject('leak options', options)
  unknownKeys('leak', obj, ['rule', ...Object.keys(LEAK_NUMERIC)])
  const out: LeakOptions = {}
  if (obj.rule !== undefined) {
    if (obj.rule !== 'trend' && obj.rule !== 'classic') {
      throw new TypeError(`leak option "rule" must be 'trend' or 'classic', got ${describe(obj.rule)}`)
    }
    out.rule = obj.rule
  }
  for (const [key, { kind, min }] of Object.entries(LEAK_NUMERIC)) {
    const v = obj[key]
    if (v === undefined) continue
    if (typeof v !== 'number' || Number.isNaN(v)) {
      throw new TypeError(`leak option "${key}" must be a number, got ${describe(v)}`)
    }
    if (!Number.isFinite(v) || v < min || (kind !== 'number' && !Number.isInteger(v))) {
      const what = kind === 'number' ? 'a finite number' : 'a whole number'
      throw new RangeError(
        `leak option "${key}" must be ${what} >= ${min === Number.MIN_VALUE ? '> 0' : min}, got ${v}`,
      )
    }
    ;(out as Record<string, number>)[key] = v
  }
  return out
}

export function checkDiffOptions(options: unknown): Required<DiffOptions> {
  const obj = checkObject('diff options', options)
  unknownKeys('diff', obj, ['grouping'])
  const grouping = obj.grouping ?? 'classic'
  if (grouping !== 'classic' && grouping !== 'devtools') {
    throw new TypeError(`diff option "grouping" must be 'classic' or 'devtools', got ${describe(grouping)}`)
  }
  return { grouping }
}
