// The engineer's week (week.json) through the official TypeScript SDK, for
// week_test.go. It runs the steps in order, putting saved values in place of
// "$name" arguments, and prints one JSON line: the answer text of every step
// ({"steps": [{"name", "error", "text"}]}); the Go test checks them. It stops
// at the first step whose outcome (tool error or not) is not the expected one.
//
// Environment: BLUE_URL (the /mcp endpoint), BLUE_TOKEN, BLUE_WEEK (the
// steps file).
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const week = JSON.parse(readFileSync(process.env.BLUE_WEEK, 'utf8'));

// at reads a dotted path ("document.version", "agents.0.name").
function at(value, path) {
  return path.split('.').reduce((v, k) => (v == null ? undefined : v[k]), value);
}

function substitute(value, saved) {
  if (typeof value === 'string' && value.startsWith('$') && value.slice(1) in saved) {
    return saved[value.slice(1)];
  }
  if (Array.isArray(value)) {
    return value.map((v) => substitute(v, saved));
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, saved)]));
  }
  return value;
}

async function main() {
  const transport = new StreamableHTTPClientTransport(new URL(process.env.BLUE_URL), {
    requestInit: { headers: { Authorization: `Bearer ${process.env.BLUE_TOKEN}` } },
  });
  const client = new Client({ name: 'ts-sdk-week', version: '1.0.0' });
  await client.connect(transport);
  const saved = {};
  const steps = [];
  for (const step of week.steps) {
    const res = await client.callTool({ name: step.tool, arguments: substitute(step.args, saved) });
    const text = (res.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');
    const error = res.isError === true;
    steps.push({ name: step.name, error, text });
    if (error !== (step.expect?.error === true)) {
      break;
    }
    if (!error) {
      const body = JSON.parse(text);
      for (const [name, path] of Object.entries(step.save ?? {})) {
        saved[name] = at(body, path);
      }
    }
  }
  if (transport.sessionId) {
    await transport.terminateSession();
  }
  await client.close();
  process.stdout.write(JSON.stringify({ steps }) + '\n');
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err?.stack ?? err) }) + '\n');
  process.exit(1);
});
