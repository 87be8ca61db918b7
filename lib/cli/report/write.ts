/**
 * Reports are written whole or not at all: to a temporary file beside the target, renamed over
 * it once complete, so a failure (bad input found late, a full disk, Ctrl-C) never leaves a
 * partial HTML file that looks like a report.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

export function writeAtomic(file: string, content: string | Buffer): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`)
  try {
    writeFileSync(tmp, content)
    renameSync(tmp, file)
  } catch (e) {
    rmSync(tmp, { force: true })
    throw e
  }
}
