// Resumes an interrupted upload with the real qiniu Node SDK's ResumeUploader
// (v1 or v2), against upgate, with a Jodoo upload token issued by upgate.
// The SDK talks to upgate through a loopback proxy in this process; in the
// first run the proxy drops the connection of the (N+1)th block/part request
// and of every request after it, so the SDK fails with N parts in its
// resumeRecordFile. The second run, through a proxy that drops nothing,
// must resume from there. Prints one JSON line:
//   {"first": {"parts", "error"}, "second": {"parts", "status", "data"}, "record_left"}
// where parts counts the block/part requests the proxy forwarded.
//
// Usage: node qiniu_resume.mjs <upgate host:port> <file> <v1|v2> <token> <record file> <N>
import fs from 'node:fs';
import http from 'node:http';
import qiniu from 'qiniu';

const [upgate, file, version, token, recordFile, dropAfterText] = process.argv.slice(2);
if (!upgate || !file || !['v1', 'v2'].includes(version) || !token || !recordFile || !dropAfterText) {
  console.error('usage: node qiniu_resume.mjs <host:port> <file> <v1|v2> <token> <record file> <N>');
  process.exit(2);
}
const dropAfter = Number(dropAfterText);
const [upHost, upPort] = upgate.split(':');

const isPart = (req) =>
  (req.method === 'POST' && req.url.startsWith('/mkblk/')) ||
  (req.method === 'PUT' && /^\/buckets\/[^/]+\/objects\/[^/]*\/uploads\/[^/]+\/\d+$/.test(req.url));

// A forwarding proxy, one for both runs (the SDK's record names the host it
// used, and a resumed upload goes back there). While `drop` is set, from the
// (drop+1)th part request on it closes the client's connection instead.
const proxy = { drop: null, parts: 0, dropping: false };
const server = http.createServer((req, res) => {
  if (isPart(req)) {
    if (proxy.drop !== null && proxy.parts >= proxy.drop) proxy.dropping = true;
    if (!proxy.dropping) proxy.parts += 1;
  }
  if (proxy.dropping) {
    req.socket.destroy();
    return;
  }
  const up = http.request(
    { host: upHost, port: Number(upPort), method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
  up.on('error', () => req.socket.destroy());
  req.pipe(up);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const host = `127.0.0.1:${server.address().port}`;

async function upload(drop) {
  Object.assign(proxy, { drop, parts: 0, dropping: false });
  // One host only: the SDK does not move on to another after a failure.
  const config = new qiniu.conf.Config({ zone: new qiniu.conf.Zone([host], [], host, host, host, host) });
  config.useHttpsDomain = false;
  const uploader = new qiniu.resume_up.ResumeUploader(config);
  const extra = new qiniu.resume_up.PutExtra();
  extra.version = version;
  extra.fname = 'resumed.bin';
  extra.resumeRecordFile = recordFile;
  const out = {};
  try {
    const result = await uploader.putFile(token, null, file, extra);
    out.status = result.resp.statusCode;
    out.data = result.data;
  } catch (err) {
    out.error = String(err);
    if (process.env.QINIU_RESUME_DEBUG) console.error(err.stack);
  }
  out.parts = proxy.parts;
  server.closeAllConnections();
  return out;
}

const first = await upload(dropAfter);
const second = await upload(null);
server.close();
console.log(JSON.stringify({ first, second, record_left: fs.existsSync(recordFile) }));
process.exit(second.status === 200 ? 0 : 1);
