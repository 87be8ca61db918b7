// Builds the HTML report's one browser asset, lib/cli/report/ui.html: uPlot's CSS and JS (from the
// uplot dev dependency) and report-ui/ (TypeScript, type-stripped here; `npm run lint` type-checks
// it) inlined as <style> and <script> elements. The package ships this file; neither uPlot nor the
// browser code is a runtime dependency.
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(root, 'package.json'))
const ts = require('typescript')
const uplotDir = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'))

const source = readFileSync(join(root, 'report-ui', 'app.ts'), 'utf8')
const { outputText, diagnostics } = ts.transpileModule(source, {
  fileName: 'app.ts',
  reportDiagnostics: true,
  compilerOptions: { target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.ESNext, removeComments: false },
})
if (diagnostics?.length) {
  for (const d of diagnostics) console.error(ts.flattenDiagnosticMessageText(d.messageText, '\n'))
  process.exit(1)
}
// The only import is uPlot's types (erased); a classic script, so that uPlot's global is in scope.
const app = outputText.replace(/^export \{\};?\s*$/m, '')
if (/^\s*(import|export)\s/m.test(app)) {
  console.error('report-ui/app.ts must not import or export at run time (it is inlined as a classic script)')
  process.exit(1)
}

// Nothing inlined may close its element early.
const inline = (tag, text) => {
  if (new RegExp(`</${tag}`, 'i').test(text)) throw new Error(`inlined ${tag} contains </${tag}`)
  return `<${tag}>\n${text}\n</${tag}>`
}
const asset = [
  `<!-- heapdiff report UI; uPlot ${require('uplot/package.json').version} (MIT, © Leon Sorokin) -->`,
  inline('style', readFileSync(join(uplotDir, 'uPlot.min.css'), 'utf8')),
  inline('style', readFileSync(join(root, 'report-ui', 'style.css'), 'utf8')),
  inline('script', readFileSync(join(uplotDir, 'uPlot.iife.min.js'), 'utf8')),
  inline('script', app),
].join('\n')
const out = join(root, 'lib', 'cli', 'report', 'ui.html')
writeFileSync(out + '.tmp', asset + '\n')
renameSync(out + '.tmp', out)
console.log(`report UI: ${out} (${(asset.length / 1024).toFixed(1)} KiB)`)
