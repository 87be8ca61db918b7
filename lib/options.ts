/**
 * Argument checking for the public API: unknown names and wrong types become a TypeError that
 * names the option before anything reaches Rust; values out of range are the native side's to
 * judge (it throws the RangeError), since that is where each option's range is declared.
 */
import binding = require('../binding')

/** Knobs of the leak rule, declared with their defaults by the native module (`binding.d.ts`). */
export type LeakOptions = binding.LeakOptions

/** Every leak option at its default, from the rule itself: names and kinds for the checks below. */
const LEAK_DEFAULTS = binding.leakOptionDefaults()

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

/**
 * Checks an options object against a full set of defaults: every key must be one of theirs and
 * of the same kind (a number where the default is a number, and not NaN).
 */
function checkShape<T extends object>(name: string, options: unknown, defaults: Required<T>): Partial<T> {
  const obj = checkObject(`${name} options`, options)
  unknownKeys(name, obj, Object.keys(defaults))
  for (const [key, value] of Object.entries(obj)) {
    if (value === undefined) continue
    const kind = typeof (defaults as Record<string, unknown>)[key]
    if (typeof value !== kind || Number.isNaN(value)) {
      throw new TypeError(`${name} option "${key}" must be a ${kind}, got ${describe(value)}`)
    }
  }
  return obj as Partial<T>
}

export function checkLeakOptions(options: unknown): LeakOptions {
  return checkShape('leak', options, LEAK_DEFAULTS as Required<LeakOptions>)
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
