// The load generator of bench/tus.sh, the same for both servers: the real
// tus-js-client.
//   large <endpoint> <file> <chunk MiB>: one upload of <file> in chunks
//   small <endpoint> <bytes> <connections> <seconds>: files of <bytes> with
//     creation-with-upload, <connections> at a time, for <seconds>
//   plain <url> <file>: not tus: <file> in one POST (upgate's plain upload
//     driven by the same runtime, reading the file the same way)
// Extra headers for every request come from TUS_HEADERS (a JSON object).
// Prints one line: RESULT mibps=... files=... fps=... errors=...
import fs from 'node:fs';
import http from 'node:http';
import * as tus from 'tus-js-client';

const [mode, endpoint, ...args] = process.argv.slice(2);
const headers = JSON.parse(process.env.TUS_HEADERS || '{}');
// One keep-alive pool per run, as a browser would reuse its connections.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const httpStack = new tus.DefaultHttpStack({ agent });

function upload(input, options) {
  return new Promise((resolve, reject) => {
    const u = new tus.Upload(input, {
      endpoint,
      headers,
      httpStack,
      retryDelays: [],
      removeFingerprintOnSuccess: true,
      storeFingerprintForResuming: false,
      ...options,
      onError: reject,
      onSuccess: () => resolve(u.url),
    });
    u.start();
  });
}

if (mode === 'large') {
  const [file, chunkMiB] = args;
  const size = fs.statSync(file).size;
  const t0 = process.hrtime.bigint();
  await upload(fs.createReadStream(file), { chunkSize: Number(chunkMiB) * 1024 * 1024, uploadSize: size });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`RESULT mibps=${(size / 1048576 / s).toFixed(1)} seconds=${s.toFixed(2)} errors=0`);
} else if (mode === 'small') {
  const [bytes, conns, seconds] = args.map(Number);
  const body = Buffer.alloc(bytes, 7);
  const end = Date.now() + seconds * 1000;
  let files = 0, errors = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: conns }, async () => {
      while (Date.now() < end) {
        try {
          await upload(body, { uploadDataDuringCreation: true, chunkSize: bytes });
          files++;
        } catch (e) {
          if (++errors === 1) console.error(String(e));
        }
      }
    }),
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`RESULT files=${files} fps=${(files / s).toFixed(0)} seconds=${s.toFixed(2)} errors=${errors}`);
} else if (mode === 'plain') {
  const [file] = args;
  const size = fs.statSync(file).size;
  const t0 = process.hrtime.bigint();
  const status = await new Promise((resolve, reject) => {
    const req = http.request(endpoint, { method: 'POST', agent, headers: { ...headers, 'Content-Length': size } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    fs.createReadStream(file).pipe(req);
  });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (status !== 201) console.error(`status ${status}`);
  console.log(`RESULT mibps=${(size / 1048576 / s).toFixed(1)} seconds=${s.toFixed(2)} errors=${status === 201 ? 0 : 1}`);
} else {
  console.error('usage: tus_load.mjs large|small|plain <endpoint> ...');
  process.exit(2);
}
agent.destroy();
