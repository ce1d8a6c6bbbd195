// Checks an upload callback's signature the way a Qiniu callback receiver
// does, with the real qiniu Node SDK (qiniu.util.isQiniuCallback).
// Exit status 0 when the signature is valid, 1 when not.
//
// Usage: node jodoo_qiniu_callback.mjs <access key> <secret key> <callback url> <body file> <Authorization>
import fs from 'node:fs';
import qiniu from 'qiniu';

const [accessKey, secretKey, url, bodyFile, authorization] = process.argv.slice(2);
if (!authorization) {
  console.error('usage: node jodoo_qiniu_callback.mjs <ak> <sk> <url> <body file> <authorization>');
  process.exit(2);
}
const mac = new qiniu.auth.digest.Mac(accessKey, secretKey);
const body = fs.readFileSync(bodyFile, 'utf8');
const valid = qiniu.util.isQiniuCallback(mac, url, body, authorization);
console.log(JSON.stringify({ valid }));
process.exit(valid ? 0 : 1);
