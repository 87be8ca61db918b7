/** Renders a report in the formats asked for and writes each file whole (see write.ts). */
import { basename, extname } from 'node:path'

import { renderHtml } from './html'
import { renderMarkdown } from './markdown'
import type { Report } from './model'
import { writeAtomic } from './write'

export type Format = 'html' | 'md' | 'json'
export const FORMATS: readonly Format[] = ['html', 'md', 'json']

/** The format a file name asks for (`.md`, `.json`), else HTML. */
export function formatOf(file: string): Format {
  const ext = extname(file).toLowerCase()
  return ext === '.md' || ext === '.markdown' ? 'md' : ext === '.json' ? 'json' : 'html'
}

export function render(report: Report, format: Format, htmlLink?: string): string {
  if (format === 'json') return JSON.stringify(report, null, 2) + '\n'
  if (format === 'md') return renderMarkdown(report, htmlLink)
  return renderHtml(report)
}

/** Writes `file` (or stdout for `-`); Markdown links to the HTML file of the same name. */
export function writeReport(report: Report, format: Format, file: string): void {
  const link = file === '-' ? undefined : basename(file, extname(file)) + '.html'
  const text = render(report, format, link)
  if (file === '-') process.stdout.write(text)
  else writeAtomic(file, text)
}
