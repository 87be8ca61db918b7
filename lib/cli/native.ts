/**
 * Loaded first by `cli.ts`: where this platform's native module is missing, the `heapdiff` bin
 * says so in one line, naming the package to install (index.ts' message), instead of napi's
 * "Cannot find native binding" from the first lib/ module that loads `binding.js`.
 */
try {
  require('../../index')
} catch (err) {
  const message = (err as Error)?.message ?? ''
  if (!/^heapdiff(: the native module| has no prebuilt native module)/.test(message)) throw err
  process.stderr.write(`${message}\n`)
  process.exit(1)
}
