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
  /**
   * Also explain the growth: for the classes with the most new instances, the retained size of
   * those instances and their shortest retaining paths from the GC roots (off by default, so the
   * classic output stays identical).
   */
  retainers?: boolean
  /** With `retainers`: how many grown classes are explained (default 10). */
  retainerClasses?: number
  /** With `retainers`: path groups listed per class (default 5). */
  maxPaths?: number
}

/** Options of the graph analyses (`findLeaks`, `checkLeaks`). */
export interface AnalysisOptions {
  /** Class names: `'classic'` (default) or `'devtools'`. */
  grouping?: 'classic' | 'devtools'
  /** Path groups listed per class (default 5). */
  maxPaths?: number
  /** Classes reported, largest retained size first (default 20). */
  maxClasses?: number
  /** Classes with fewer surviving instances are left out (default 1). */
  minCount?: number
  /**
   * Count V8's own objects: compiled code, hidden classes, system nodes (default true for
   * `findLeaks`, false for `checkLeaks`, where V8 optimising the function is not a leak).
   */
  internals?: boolean
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

function checkGrouping(name: string, value: unknown): 'classic' | 'devtools' {
  const grouping = value ?? 'classic'
  if (grouping !== 'classic' && grouping !== 'devtools') {
    throw new TypeError(`${name} option "grouping" must be 'classic' or 'devtools', got ${describe(grouping)}`)
  }
  return grouping
}

/** A whole number option; `min` is its lowest allowed value. */
function checkCount(name: string, key: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} option "${key}" must be a number, got ${describe(value)}`)
  }
  if (!Number.isInteger(value) || value < min || value > 2 ** 31) {
    throw new RangeError(`${name} option "${key}" must be a whole number >= ${min}, got ${value}`)
  }
  return value
}

function checkFlag(name: string, key: string, value: unknown): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean')
    throw new TypeError(`${name} option "${key}" must be a boolean, got ${describe(value)}`)
  return value
}

export function checkDiffOptions(options: unknown): Required<DiffOptions> {
  const obj = checkObject('diff options', options)
  unknownKeys('diff', obj, ['grouping', 'retainers', 'retainerClasses', 'maxPaths'])
  return {
    grouping: checkGrouping('diff', obj.grouping),
    retainers: checkFlag('diff', 'retainers', obj.retainers),
    retainerClasses: checkCount('diff', 'retainerClasses', obj.retainerClasses, 10, 1),
    maxPaths: checkCount('diff', 'maxPaths', obj.maxPaths, 5, 1),
  }
}

export function checkAnalysisOptions(options: unknown, extra: readonly string[] = []): Required<AnalysisOptions> {
  const obj = checkObject('analysis options', options)
  unknownKeys('analysis', obj, ['grouping', 'maxPaths', 'maxClasses', 'minCount', 'internals', ...extra])
  return {
    internals: obj.internals === undefined ? true : checkFlag('analysis', 'internals', obj.internals),
    grouping: checkGrouping('analysis', obj.grouping),
    maxPaths: checkCount('analysis', 'maxPaths', obj.maxPaths, 5, 1),
    maxClasses: checkCount('analysis', 'maxClasses', obj.maxClasses, 20, 1),
    minCount: checkCount('analysis', 'minCount', obj.minCount, 1, 1),
  }
}

export { checkCount, checkObject, unknownKeys }
