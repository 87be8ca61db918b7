/** Prints one JSON line: wall ms since t0, this process's peak RSS (MB), and the tool's summary. */
export function report(t0, summary) {
  const ms = performance.now() - t0
  const rssMb = process.resourceUsage().maxRSS / 1024
  console.log(JSON.stringify({ ms, rssMb, ...summary }))
}
