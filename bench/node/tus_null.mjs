// The client's ceiling for bench/tus.sh: a tus 1.0.0 endpoint at
// http://127.0.0.1:<port>/files/ that answers POST (creation, with upload),
// HEAD and PATCH correctly but discards the bytes, so tus-js-client's own
// rate shows beside the servers'.
import http from 'node:http';

const [port] = process.argv.slice(2);
const uploads = new Map(); // id -> { offset, length }
let next = 0;

function drain(req, done) {
  let n = 0;
  req.on('data', (b) => (n += b.length));
  req.on('end', () => done(n));
}

http
  .createServer((req, res) => {
    const answer = (status, headers = {}) => {
      res.writeHead(status, { 'Tus-Resumable': '1.0.0', ...headers });
      res.end();
    };
    const id = req.url.split('/')[2];
    if (req.method === 'POST' && !id) {
      const u = { offset: 0, length: Number(req.headers['upload-length']) };
      const key = String(++next);
      uploads.set(key, u);
      return drain(req, (n) => {
        u.offset = n;
        if (u.offset === u.length) uploads.delete(key);
        answer(201, { Location: `/files/${key}`, 'Upload-Offset': String(n) });
      });
    }
    const u = uploads.get(id);
    if (!u) return drain(req, () => answer(404));
    if (req.method === 'HEAD')
      return answer(200, { 'Upload-Offset': String(u.offset), 'Upload-Length': String(u.length), 'Cache-Control': 'no-store' });
    if (req.method === 'PATCH') {
      if (Number(req.headers['upload-offset']) !== u.offset) return drain(req, () => answer(409));
      return drain(req, (n) => {
        u.offset += n;
        if (u.offset === u.length) uploads.delete(id);
        answer(204, { 'Upload-Offset': String(u.offset) });
      });
    }
    drain(req, () => answer(405));
  })
  .listen(Number(port), '127.0.0.1', () => console.log('ready'));
