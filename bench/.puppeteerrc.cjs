// @memlab/core depends on puppeteer, whose install downloads a browser; the benchmarks only use
// memlab's snapshot parser, so skip the download (it also fails on machines without network).
module.exports = { skipDownload: true }
