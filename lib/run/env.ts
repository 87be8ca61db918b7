/** What `heapdiff run` tells the preload in the program's environment (read once, at load). */
export const ENV = {
  /** The run folder: the preload records only where this is set. */
  dir: 'HEAPDIFF_RUN_DIR',
  /** `0`: no allocation sampling. */
  sampling: 'HEAPDIFF_RUN_SAMPLING',
  /** `0`: no class censuses for the leak events (the `census` leak option). */
  census: 'HEAPDIFF_RUN_CENSUS',
  /** `on-leak`: the three-snapshot sequence after a thread's first `leak` event. */
  snapshots: 'HEAPDIFF_RUN_SNAPSHOTS',
  /** Full GCs between the snapshots of that sequence. */
  snapshotGcs: 'HEAPDIFF_RUN_SNAPSHOT_GCS',
} as const
