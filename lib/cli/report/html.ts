/**
 * The report as one self-contained HTML file: the browser code and uPlot (built into one asset
 * by `scripts/build-report-ui.mjs` at `npm run build`) and the report's JSON, inlined. Its
 * Content-Security-Policy allows no network request of any kind, so it reads the same from a
 * CI artefact, an e-mail attachment or a laptop offline.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

import type { Report } from './model'
import { formatSize } from './size'

/** Built by `npm run build`; shipped in the package as a file, not as runtime dependencies. */
export const ASSET = join(__dirname, 'ui.html')

/** Above this the JSON is embedded gzip-compressed (base64), inflated by the browser's DecompressionStream. */
const COMPRESS_ABOVE = 64 * 1024

const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
}

export function renderHtml(report: Report): string {
  let asset: string
  try {
    asset = readFileSync(ASSET, 'utf8')
  } catch (e) {
    throw new Error(`the report's browser code is missing (${ASSET}): run npm run build (${(e as Error).message})`)
  }
  const json = JSON.stringify(report)
  let payload: string
  let encoding: string
  if (json.length > COMPRESS_ABOVE) {
    payload = gzipSync(json, { level: 6 }).toString('base64')
    encoding = 'gzip-base64'
  } else {
    // `<` escaped so that no string in the data can close the script element.
    payload = json.replace(/</g, '\\u003c')
    encoding = 'json'
  }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(report.title)}</title>
</head>
<body>
<noscript>This report needs JavaScript to draw; the data is in the report's JSON (heapdiff report --format json).</noscript>
<script type="application/json" id="heapdiff-data" data-encoding="${encoding}">${payload}</script>
<script>
${formatSize /* heapdiff's size wording, for the browser code: lib/cli/report/size.ts's source */}
</script>
${asset}
</body>
</html>
`
}
