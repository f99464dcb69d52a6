// Usage: node gpt2_expected.js PATH/TO/gpt-3-encoder/Encoder.js < corpus.jsonl > gpt2/expected.jsonl
// Runs OpenAI's GPT-2 encoder as shipped by the npm package gpt-3-encoder@1.1.4
// over each JSON-string line of stdin and writes {"text": ..., "ids": [...]} lines.
const path = require('path');
const fs = require('fs');
const enc = require(path.resolve(process.argv[2]));
const lines = fs.readFileSync(0, 'utf-8').split('\n').filter(l => l.length > 0);
const out = [];
for (const l of lines) {
  const text = JSON.parse(l);
  const ids = enc.encode(text);
  if (ids.some(x => x === undefined)) throw new Error('undefined id for ' + l);
  out.push(JSON.stringify({text: text, ids: ids}));
}
process.stdout.write(out.join('\n') + '\n');
