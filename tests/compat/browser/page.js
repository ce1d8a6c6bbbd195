// The browser side of browser_uploads.mjs, bundled by esbuild at test time.
// Each upload makes its bytes here (a seeded pattern, no fixture file), hands
// them to the real client library as a File, and resolves with the library's
// answer and the page's own digests for the test to compare.
import Uppy from '@uppy/core';
import Tus from '@uppy/tus';

// A seeded xorshift32 pattern: the same bytes for the same seed, not
// compressible, made in the page.
function makeFile(name, size, seed) {
  const bytes = new Uint8Array(size);
  const words = new Uint32Array(bytes.buffer, 0, size >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    words[i] = x;
  }
  for (let i = words.length * 4; i < size; i++) bytes[i] = i & 0xff;
  return { bytes, file: new File([bytes], name, { type: 'application/octet-stream' }) };
}

const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');

// Qiniu's etag (qetag), computed here independently of the server: SHA-1 of
// the whole when at most 4 MiB, else SHA-1 of the blocks' SHA-1s, prefixed.
async function qetag(bytes) {
  const block = 4 << 20;
  const sha1 = async (b) => new Uint8Array(await crypto.subtle.digest('SHA-1', b));
  if (bytes.length <= block) return b64url([0x16, ...(await sha1(bytes))]);
  const digests = [];
  for (let at = 0; at < bytes.length; at += block) digests.push(...(await sha1(bytes.subarray(at, at + block))));
  return b64url([0x96, ...(await sha1(new Uint8Array(digests)))]);
}

async function digests(bytes) {
  return { size: bytes.length, sha256: hex(await crypto.subtle.digest('SHA-256', bytes)) };
}

// Uppy with its tus plugin; `grant` goes in the tus requests' Authorization.
window.uppyUpload = async ({ endpoint, grant, size, chunkSize, seed }) => {
  const { bytes, file } = makeFile('uppy.bin', size, seed);
  const uppy = new Uppy({ autoProceed: false });
  uppy.use(Tus, {
    endpoint,
    chunkSize,
    headers: { Authorization: `Bearer ${grant}` },
    retryDelays: [],
    removeFingerprintOnSuccess: true,
  });
  uppy.addFile({ name: file.name, type: file.type, data: file });
  const result = await uppy.upload();
  const failed = result.failed.map((f) => String(f.error));
  const ok = result.successful[0];
  return { origin: location.origin, failed, uploadURL: ok ? ok.uploadURL : '', ...(await digests(bytes)) };
};

// qiniu-js (its UMD build, the global `qiniu`): upload() with the v2
// resumable protocol, as it uses for a file over 4 MiB.
window.qiniuUpload = async ({ uphost, token, size, seed }) => {
  const { bytes, file } = makeFile('qiniu.bin', size, seed);
  const config = { uphost, upprotocol: 'http', disableStatisticsReport: true };
  const answer = await new Promise((resolve, reject) => {
    window.qiniu.upload(file, null, token, { fname: file.name }, config).subscribe({
      error: (e) => reject(new Error(`${e.name || 'error'} ${e.code || ''} ${e.message}`)),
      complete: resolve,
    });
  });
  return { origin: location.origin, answer, qetag: await qetag(bytes), ...(await digests(bytes)) };
};
