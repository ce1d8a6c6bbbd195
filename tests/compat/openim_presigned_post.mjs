// Signs an S3 POST policy with the real @aws-sdk/s3-presigned-post against an
// OpenIM app's upgate credentials (`upgate openim credentials`), then uploads
// a file through it with fetch + FormData, the way a browser would.
//
// env: ENDPOINT (e.g. http://127.0.0.1:PORT/s3), ACCESS_KEY_ID, SECRET_ACCESS_KEY,
//      REGION, BUCKET, KEY, BODY (the file's text), MAX (content-length-range max)
// Prints {"status":..,"body":"..","url":".."} on stdout; exit 0 when the
// upload succeeded (2xx).
import { S3Client } from "@aws-sdk/client-s3";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";

const env = process.env;
const client = new S3Client({
  region: env.REGION,
  endpoint: env.ENDPOINT,
  forcePathStyle: true,
  credentials: { accessKeyId: env.ACCESS_KEY_ID, secretAccessKey: env.SECRET_ACCESS_KEY },
});

const { url, fields } = await createPresignedPost(client, {
  Bucket: env.BUCKET,
  Key: env.KEY,
  Conditions: [["content-length-range", 0, Number(env.MAX)], ["starts-with", "$Content-Type", "text/"]],
  Fields: { "Content-Type": "text/plain", success_action_status: "201" },
  Expires: 600,
});

const form = new FormData();
for (const [k, v] of Object.entries(fields)) form.append(k, v);
form.append("file", new Blob([env.BODY], { type: "text/plain" }), "hello.txt");
const res = await fetch(url, { method: "POST", body: form });
const body = await res.text();
console.log(JSON.stringify({ status: res.status, body, url }));
process.exit(res.status >= 200 && res.status < 300 ? 0 : 1);
