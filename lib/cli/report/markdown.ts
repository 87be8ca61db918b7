/**
 * The report as Markdown, for a pull-request comment or a CI step summary
 * (`cat report.md >> "$GITHUB_STEP_SUMMARY"`): the verdict, what grew with where it was
 * allocated and what holds it, and a link to the HTML report for the rest.
 */
import { formatSize } from '../../../binding'
import { siteLabel, type Report } from './model'

const TOP = 5

/** Table cells hold code spans; a pipe or a backtick in a class name must not break them. */
function cell(s: string): string {
  return '`' + s.replace(/`/g, "'").replace(/\|/g, '\\|') + '`'
}

export function renderMarkdown(report: Report, htmlLink?: string): string {
  const out: string[] = []
  // Red for a leak, green for a clean verdict, white where there was nothing to judge (too few
  // GCs, or snapshots of two processes).
  const undecided = /^No (verdict|diff)\b/.test(report.verdict.sentence)
  const icon = report.verdict.leak ? '🔴' : undecided ? '⚪' : '🟢'
  out.push(`### ${icon} ${report.title}`, '', report.verdict.sentence, '')
  const census = report.classes.some((c) => typeof c.growth === 'number')
  if (census) {
    // Counted by a class census: objects only, no sizes or paths.
    out.push(`**What grew** (${report.class_source}):`, '', '| class | grew | alive |', '|---|---:|---:|')
    for (const c of report.classes.slice(0, TOP)) out.push(`| ${cell(c.what)} | +${c.growth} | ${c.count} |`)
    if (report.classes.length > TOP) out.push(`| … ${report.classes.length - TOP} more | | |`)
    out.push('')
  } else if (report.classes.length > 0) {
    const diff = report.kind === 'diff'
    out.push(`**What ${diff ? 'grew' : 'is still alive'}** (${report.class_source}):`, '')
    out.push(`| class | ${diff ? 'new' : 'alive'} | size | retained | allocated at |`, '|---|---:|---:|---:|---|')
    for (const c of report.classes.slice(0, TOP)) {
      const size = c.size_bytes === null ? '' : (c.size_bytes > 0 && diff ? '+' : '') + formatSize(c.size_bytes)
      const retained = c.retained_size_bytes === null ? '' : formatSize(c.retained_size_bytes)
      out.push(
        `| ${cell(c.what)} | ${c.count} | ${size} | ${retained} | ${c.allocated_at ? cell(c.allocated_at) : ''} |`,
      )
    }
    if (report.classes.length > TOP) out.push(`| … ${report.classes.length - TOP} more | | | | |`)
    out.push('')
    const held = report.classes.find((c) => c.paths.length > 0)
    if (held) {
      const p = held.paths[0]
      out.push(`**Main retaining path** of ${cell(held.what)} (${p.count} ×):`, '', '```', p.path, '```', '')
      // `[·]` stands for any key of a keyed store; a few of the real ones help find them.
      if (p.keys?.length) out.push(`Example keys at \`[·]\`: ${p.keys.map((k) => cell(k)).join(', ')}`, '')
    }
  }
  if (report.sites.length > 0) {
    out.push('**Allocation sites of the growth:**', '', '| site | growth | live |', '|---|---:|---:|')
    for (const s of report.sites.slice(0, TOP)) {
      const growth = s.growth_bytes === null ? '' : formatSize(s.growth_bytes)
      const live =
        s.live_bytes === null ? '' : formatSize(s.live_bytes) + (s.live_count !== null ? ` (${s.live_count})` : '')
      out.push(`| ${cell(siteLabel(s)!)} | ${growth} | ${live} |`)
    }
    out.push('')
  }
  if (report.leaks.length > 0) {
    out.push(`<details><summary>${report.leaks.length} leak event${report.leaks.length > 1 ? 's' : ''}</summary>`, '')
    for (const l of report.leaks.slice(0, 20)) out.push(`- ${new Date(l.time).toISOString()} ${l.thread}: ${l.reason}`)
    out.push('', '</details>', '')
  }
  for (const n of report.notes) out.push(`> ${n}`, '')
  if (htmlLink) out.push(`[Full report (HTML)](${htmlLink.replace(/ /g, '%20')})`, '')
  return out.join('\n')
}
