/**
 * Argument checking for the public API: unknown names and wrong types become a TypeError that
 * names the option before anything reaches Rust; values out of range are the native side's to
 * judge (it throws the RangeError), since that is where each option's range is declared.
 */
import binding = require('../binding')

/** Knobs of the leak rule, declared with their defaults by the native module (`binding.d.ts`). */
export type LeakOptions = binding.LeakOptions

/** Options of a diff (`HeapDiff`, `diffFiles`), declared with their defaults by the native module. */
export type DiffOptions = binding.DiffOptions

/** Options of the three-snapshot analyses (`findLeaks`, `checkLeaks`), likewise. */
export type AnalysisOptions = binding.AnalysisOptions

/** Options of `topRetainers`, likewise. */
export type TopRetainerOptions = binding.TopRetainerOptions

/** Options of `census()`, likewise. */
export type CensusOptions = binding.CensusOptions

/** Every option at its default, from the native module: names and kinds for the checks below. */
const LEAK_DEFAULTS = binding.leakOptionDefaults()
const DIFF_DEFAULTS = binding.diffOptionDefaults()
export const ANALYSIS_DEFAULTS = binding.analysisOptionDefaults() as Required<AnalysisOptions>
export const TOP_DEFAULTS = binding.topRetainerOptionDefaults() as Required<TopRetainerOptions>

function checkObject(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${describe(value)}`)
  }
  return value as Record<string, unknown>
}

/**
 * A wrong argument as error messages name it, heapdiff's one wording: `null`, `undefined`,
 * `an array`, `the string "1k"`, `number 1`, `boolean true`; other objects and functions by
 * their type alone (`object`, `function`).
 */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v)
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`
  if (typeof v === 'object' || typeof v === 'function') return typeof v
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

/** `top` has no default (all classes) but is a number like `min`. */
/** Classes a `leak` event lists (and what grew before any, as `whatGrew()` and `heapdiff run` tell it). */
export const LEAK_CLASSES = 10

const CENSUS_SHAPE = { ...binding.censusOptionDefaults(), top: 0 } as Required<CensusOptions>

/** Names and kinds of `census()` options; their ranges are the native module's to judge. */
export function checkCensusOptions(options: unknown): CensusOptions {
  return checkShape('census', options, CENSUS_SHAPE)
}

export function checkLeakOptions(options: unknown): LeakOptions {
  return checkShape('leak', options, LEAK_DEFAULTS as Required<LeakOptions>)
}

/** Every diff option: the given ones checked (ranges by the native module), the rest at their defaults. */
export function checkDiffOptions(options: unknown): Required<DiffOptions> {
  const given = checkShape('diff', options, DIFF_DEFAULTS as Required<DiffOptions>)
  return binding.resolveDiffOptions(given) as Required<DiffOptions>
}

/** Every analysis option, likewise. */
export function checkAnalysisOptions(options: unknown): Required<AnalysisOptions> {
  const given = checkShape('analysis', options, ANALYSIS_DEFAULTS)
  return binding.resolveAnalysisOptions(given) as Required<AnalysisOptions>
}

/** Every `topRetainers` option, likewise. */
export function checkTopRetainerOptions(options: unknown): Required<TopRetainerOptions> {
  const given = checkShape('topRetainers', options, TOP_DEFAULTS)
  return binding.resolveTopRetainerOptions(given) as Required<TopRetainerOptions>
}

/** A whole number option of the JS layer's own (`checkLeaks`); `min` is its lowest allowed value. */
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

export { checkCount, checkObject }
