// Uploads three files to upgate with the real qiniu Node SDK, one per form
// upload API (put, putFile, putStream), using Jodoo upload tokens issued by
// upgate. Prints one JSON line per upload: {"method", "status", "data"}.
// Exit status 0 only when all three succeed.
//
// Usage: node jodoo_qiniu.mjs <upload host:port> <file> <token1> <token2> <token3>
import fs from 'node:fs';
import qiniu from 'qiniu';

const [host, file, ...tokens] = process.argv.slice(2);
if (!host || !file || tokens.length !== 3) {
  console.error('usage: node jodoo_qiniu.mjs <host:port> <file> <token1> <token2> <token3>');
  process.exit(2);
}

// A fixed zone keeps the SDK from asking uc.qiniuapi.com where the bucket lives.
const config = new qiniu.conf.Config({ zone: new qiniu.conf.Zone([host], [host], host, host, host, host) });
config.useHttpsDomain = false;
const uploader = new qiniu.form_up.FormUploader(config);

function extra(fname) {
  const e = new qiniu.form_up.PutExtra();
  e.fname = fname;
  e.params = { 'x:origin': 'compat' };
  return e;
}

const uploads = [
  ['put', () => uploader.put(tokens[0], null, Buffer.from('hello from FormUploader.put\n'), extra('put.txt'))],
  ['putFile', () => uploader.putFile(tokens[1], null, file, extra('putFile.bin'))],
  ['putStream', () => uploader.putStream(tokens[2], null, fs.createReadStream(file), extra('putStream.bin'))],
];

let failed = false;
for (const [method, run] of uploads) {
  try {
    const result = await run();
    const status = result.resp.statusCode;
    if (!result.ok()) failed = true;
    console.log(JSON.stringify({ method, status, data: result.data }));
  } catch (err) {
    failed = true;
    console.log(JSON.stringify({ method, status: 0, error: String(err) }));
  }
}
process.exit(failed ? 1 : 0);
