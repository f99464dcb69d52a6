// Usage: node bench_node.js PATH/TO/Encoder.js FILE REPEAT
// Times gpt-3-encoder's encode over FILE repeated REPEAT times (one call per
// copy of the file, as its cache is per process), best of 5 runs, and prints
// MB/s and the token count.
const path = require('path');
const fs = require('fs');
const enc = require(path.resolve(process.argv[2]));
const text = fs.readFileSync(process.argv[3], 'utf-8');
const repeat = parseInt(process.argv[4] || '100', 10);
const bytes = Buffer.byteLength(text, 'utf-8') * repeat;
let best = Infinity, tokens = 0;
for (let run = 0; run < 5; run++) {
  const t0 = process.hrtime.bigint();
  tokens = 0;
  for (let i = 0; i < repeat; i++) tokens += enc.encode(text).length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  best = Math.min(best, s);
}
console.log(JSON.stringify({mb_per_s: bytes / best / 1e6, seconds: best, bytes: bytes, tokens: tokens}));
