// Writes `<file>.br` (brotli, quality 11) next to each file named and prints
// its size; `scripts/build-widget.sh` writes the `.gz` with gzip -9, whose
// output is smaller than zlib's. Usage: node scripts/precompress.mjs FILE...
import { readFileSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, constants } from 'node:zlib';

for (const file of process.argv.slice(2)) {
  const raw = readFileSync(file);
  const br = brotliCompressSync(raw, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_LGWIN]: 24,
      [constants.BROTLI_PARAM_MODE]: file.endsWith('.wasm') ? constants.BROTLI_MODE_GENERIC : constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  writeFileSync(`${file}.br`, br);
  console.log(`${file}: ${raw.length} B raw, ${br.length} B brotli`);
}
