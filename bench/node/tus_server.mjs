// The baseline of bench/tus.sh: @tus/server with its FileStore (which writes
// without fsync) at http://127.0.0.1:<port>/files/, storing under <dir>.
import http from 'node:http';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const [dir, port] = process.argv.slice(2);
const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
http
  .createServer((req, res) => tus.handle(req, res))
  .listen(Number(port), '127.0.0.1', () => console.log('ready'));
