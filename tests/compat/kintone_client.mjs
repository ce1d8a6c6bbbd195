// Drives the real @kintone/rest-api-client against upgate's kintone dialect.
// Env: KINTONE_URL (http://localhost:PORT), KINTONE_TOKEN (app 1, all
// permissions), KINTONE_USER / KINTONE_PASSWORD (a user of the tenant),
// KINTONE_GUEST_TOKEN (app 5 of guest space 5). Exits non-zero on the first
// mismatch; prints a JSON summary for the gtest to check against the server.
import assert from "node:assert/strict";
import { KintoneRestAPIClient, KintoneRestAPIError } from "@kintone/rest-api-client";

const baseUrl = process.env.KINTONE_URL;
const ascii = Buffer.from("hello from the kintone client\n");
const chinese = Buffer.alloc(300_000);
for (let i = 0; i < chinese.length; i++) chinese[i] = (i * 7919) & 0xff;

async function fileRoundTrip(client, app, title) {
  const { fileKey: k1 } = await client.file.uploadFile({ file: { name: "hello.txt", data: ascii } });
  const { fileKey: k2 } = await client.file.uploadFile({ file: { name: "季度报告.bin", data: chinese } });
  assert.match(k1, /^[0-9a-f-]{36}$/);
  const { id, revision } = await client.record.addRecord({
    app,
    record: { title: { value: title }, attachment: { value: [{ fileKey: k1 }, { fileKey: k2 }] } },
  });
  assert.equal(typeof id, "string");
  assert.equal(revision, "1");
  const { record } = await client.record.getRecord({ app, id });
  const files = record.attachment.value;
  assert.deepEqual(files.map((f) => f.name), ["hello.txt", "季度报告.bin"]);
  assert.deepEqual(files.map((f) => f.size), [String(ascii.length), String(chinese.length)]);
  assert.equal(record.$id.value, id);
  const a = Buffer.from(await client.file.downloadFile({ fileKey: files[0].fileKey }));
  const b = Buffer.from(await client.file.downloadFile({ fileKey: files[1].fileKey }));
  assert.ok(a.equals(ascii), "ASCII file differs");
  assert.ok(b.equals(chinese), "Chinese-named file differs");
  // An upload key does not download.
  await assert.rejects(client.file.downloadFile({ fileKey: k1 }), (e) => e instanceof KintoneRestAPIError && e.status === 404);
  return { id, fileKeys: files.map((f) => f.fileKey) };
}

const tokenClient = new KintoneRestAPIClient({ baseUrl, auth: { apiToken: process.env.KINTONE_TOKEN } });
const viaToken = await fileRoundTrip(tokenClient, 1, "via token");

// Revisions: the right one updates, a stale one is GAIA_CO02.
const { revision } = await tokenClient.record.updateRecord({
  app: 1, id: viaToken.id, revision: 1, record: { title: { value: "updated" } },
});
assert.equal(revision, "2");
await assert.rejects(
  tokenClient.record.updateRecord({ app: 1, id: viaToken.id, revision: 1, record: { title: { value: "stale" } } }),
  (e) => e instanceof KintoneRestAPIError && e.code === "GAIA_CO02" && e.status === 409,
);

// Many records: addAllRecords goes through bulkRequest, getAllRecords pages with "$id > N ... limit 500".
const many = Array.from({ length: 1203 }, (_, i) => ({ title: { value: `bulk ${i}` } }));
const added = await tokenClient.record.addAllRecords({ app: 1, records: many });
assert.equal(added.records.length, many.length);
const all = await tokenClient.record.getAllRecords({ app: 1, fields: ["$id", "title"] });
assert.equal(all.length, many.length + 1);
const ids = all.map((r) => Number(r.$id.value));
assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
const withCursor = await tokenClient.record.getAllRecordsWithCursor({ app: 1, fields: ["title"], query: "$id > 1000" });
assert.equal(withCursor.length, all.filter((r) => Number(r.$id.value) > 1000).length);
const { records, totalCount } = await tokenClient.record.getRecords({ app: 1, query: "limit 3", totalCount: true });
assert.equal(records.length, 3);
assert.equal(totalCount, String(all.length));

// Password auth.
const userClient = new KintoneRestAPIClient({
  baseUrl, auth: { username: process.env.KINTONE_USER, password: process.env.KINTONE_PASSWORD },
});
const viaPassword = await fileRoundTrip(userClient, 1, "via password");
const badUser = new KintoneRestAPIClient({ baseUrl, auth: { username: process.env.KINTONE_USER, password: "wrong" } });
await assert.rejects(badUser.record.getRecord({ app: 1, id: viaToken.id }),
  (e) => e instanceof KintoneRestAPIError && e.code === "CB_AU01" && e.status === 401);

// A guest space.
const guestClient = new KintoneRestAPIClient({
  baseUrl, auth: { apiToken: process.env.KINTONE_GUEST_TOKEN }, guestSpaceId: 5,
});
const viaGuest = await fileRoundTrip(guestClient, 5, "in a guest space");

console.log(JSON.stringify({ viaToken, viaPassword, viaGuest, bulk: added.records.length }));
