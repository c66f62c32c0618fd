// A third-party MCP client for thirdparty_test.go: the official TypeScript
// SDK (@modelcontextprotocol/sdk, pinned in the repository's package.json)
// over streamable HTTP with a bearer token. It runs one RFC journey and
// prints a single JSON line for the Go test to check; on a failure it prints
// {"error": ...} and exits 1.
//
// Environment: BLUE_URL (the /mcp endpoint), BLUE_TOKEN, BLUE_BAD_TOKEN.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = new URL(process.env.BLUE_URL);

function transport(token) {
  return new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
}

// The tool's result as the text content's JSON; a tool error throws.
async function call(client, name, args) {
  const res = await client.callTool({ name, arguments: args });
  const text = (res.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');
  if (res.isError) {
    throw new Error(`${name}: tool error: ${text}`);
  }
  return { body: JSON.parse(text), structured: res.structuredContent !== undefined };
}

async function main() {
  const out = {};

  const t = transport(process.env.BLUE_TOKEN);
  const client = new Client({ name: 'ts-sdk-e2e', version: '1.0.0' });
  await client.connect(t);
  out.server = client.getServerVersion()?.name;
  out.protocolVersion = t.protocolVersion;
  out.sessionId = t.sessionId ?? '';

  const { tools } = await client.listTools();
  out.toolCount = tools.length;
  out.hasRfcCreate = tools.some((tool) => tool.name === 'blue_rfc_create');

  const created = await call(client, 'blue_rfc_create', { title: 'Third party client', problem: 'Only the go-sdk was tested.' });
  out.created = { id: created.body.document.id, status: created.body.document.status };
  out.structuredContent = created.structured;

  const got = await call(client, 'blue_rfc_get', { title: out.created.id });
  out.got = { id: got.body.document.id, title: got.body.document.title, status: got.body.document.status };

  const updated = await call(client, 'blue_rfc_update_status', { title: out.created.id, status: 'accepted' });
  out.updated = { id: updated.body.document.id, status: updated.body.document.status };

  const listed = await call(client, 'blue_rfc_list', {});
  out.listed = listed.body.documents.map((d) => ({ id: d.id, status: d.status }));

  const found = await call(client, 'blue_search', { query: 'third party' });
  out.found = found.body.documents.map((d) => d.id);

  // Ends the session (DELETE with Mcp-Session-Id) when the server issued one.
  if (t.sessionId) {
    await t.terminateSession();
    out.terminated = true;
  }
  await client.close();

  // A wrong token: the server must refuse it with 401.
  const bad = new Client({ name: 'ts-sdk-e2e-bad', version: '1.0.0' });
  try {
    await bad.connect(transport(process.env.BLUE_BAD_TOKEN));
    out.unauthorized = { connected: true };
  } catch (err) {
    out.unauthorized = {
      code: err instanceof StreamableHTTPError ? err.code : null,
      message: String(err?.message ?? err),
    };
  }
  await bad.close().catch(() => {});

  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err?.stack ?? err) }) + '\n');
  process.exit(1);
});
