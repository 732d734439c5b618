/**
 * The bench's loopback server in its own process (so its work does not share the client's event loop):
 * `node --import tsx bench/mllm-server.ts LATENCY_MS CAPACITY MODEL` prints its URL, then serves until
 * stdin closes.
 */
import { startOpenAiServer } from '../test/helpers/openai-server.js';

const [latency = '200', capacity = '64', model = 'bench/model'] = process.argv.slice(2);
const server = await startOpenAiServer({
  models: [model],
  latencyMs: Number(latency),
  capacity: Number(capacity),
  record: false,
});
process.stdout.write(`${server.url}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  process.stderr.write(`peak concurrency ${server.peakActive}\n`);
  void server.close().then(() => process.exit(0));
});
