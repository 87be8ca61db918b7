// ESM entry of heapdiff/metrics: the CommonJS module's functions as named exports.
import metrics from './metrics.js'

export default metrics
export const registerPrometheus = metrics.registerPrometheus
export const registerOpenTelemetry = metrics.registerOpenTelemetry
export const TOP_SITES = metrics.TOP_SITES
