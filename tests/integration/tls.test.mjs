// SPEC §8 TLS, with auth required and multitenancy on (the "done when"):
// the OTel JS exporters over https:// and gRPC TLS, curl over h2 and http/1.1
// (ALPN), wss live updates, plaintext refused, mTLS, and a certificate reload on
// SIGHUP while a client streams.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import WebSocket from 'ws';
import { spawnSync } from 'node:child_process';
import { test, setup, run, tempDir, startCollector, startQuery, curl, eventually, makeCerts, span, hex, launchChromium, writeTokensFile, BIN } from './lib.mjs';
import { makeProvider, orcheoRun, assertCompletedRun } from './otel.mjs';

let certs, collector, query, mtlsQuery, env, ca;
const WRITER = 'svc-tls-writer', READER = 'svc-tls-reader';

setup('certificates, tokens, and both daemons with TLS, auth and multitenancy on', async () => {
  const dir = tempDir('arbor-tls-');
  certs = makeCerts(dir);
  // the daemons read these paths: the reload test rewrites them in place
  copyFileSync(certs.cert, path.join(dir, 'live.pem'));
  copyFileSync(certs.key, path.join(dir, 'live.key'));
  ca = readFileSync(certs.ca);
  writeTokensFile(path.join(dir, 'tokens'), { [WRITER]: 'acme traces:write writer', [READER]: 'acme traces:read reader' });
  env = { ARBOR_AUTH: 'required', ARBOR_MULTITENANCY: 'on', ARBOR_AUTH_TOKENS_FILE: path.join(dir, 'tokens'),
    ARBOR_AUTH_READ_SCOPES: 'traces:read', ARBOR_AUTH_WRITE_SCOPES: 'traces:write',
    ARBOR_TLS_CERT: path.join(dir, 'live.pem'), ARBOR_TLS_KEY: path.join(dir, 'live.key') };
  const data = tempDir();
  collector = await startCollector(data, [], { env });
  query = await startQuery(data, ['--live-quiet=200ms'], { env });
  mtlsQuery = await startQuery(data, [], { env: { ...env, ARBOR_TLS_CLIENT_CA: certs.ca } });
});

const https = (h) => `https://${h}`;
// curl with the test CA; returns [status or http_version line, body]
function curlTls(url, extra = []) {
  const r = curl(['--cacert', certs.ca, '-H', `Authorization: Bearer ${READER}`, '-w', '\n%{http_code} %{http_version}', ...extra, url]);
  const out = r.stdout.toString();
  const at = out.lastIndexOf('\n');
  return { code: r.status, body: out.slice(0, at), tail: out.slice(at + 1), stderr: r.stderr.toString() };
}

test('the OTel JS exporters write over https:// and gRPC TLS; the Canvas contract holds over https', async () => {
  for (const protocol of ['proto', 'json', 'grpc']) {
    const url = protocol === 'grpc' ? https(collector.otlp_grpc) : `${https(collector.otlp_http)}/v1/traces`;
    const provider = makeProvider({ protocol, url, headers: { authorization: `Bearer ${WRITER}` }, tls: { ca } });
    const exec = `tls-${protocol}`;
    const run1 = await orcheoRun(provider, { executionId: exec, nodes: 3 });
    await provider.shutdown();
    const body = await eventually(() => {
      const r = curlTls(`${https(query.query)}/api/executions/${exec}/trace`);
      const b = r.code === 0 && JSON.parse(r.body);
      return b && b.execution.status === 'completed' && b;
    });
    assertCompletedRun(body, run1, exec, 3);
  }
});

test('headless Chromium loads the Trace tab over https with a token, and its live stream connects over wss', async () => {
  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage(); // the test CA is not the browser's
    await page.goto(`${https(query.query)}/?execution=tls-proto#access_token=${READER}`);
    await page.locator('.row .name', { hasText: 'workflow.execution' }).waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid=span-count]')?.textContent === '4');
    await page.locator('.theader .badge.done, .theader .badge.live').first().waitFor(); // from the wss stream only
  } finally {
    await browser.close();
  }
});

test('ALPN: both listeners speak h2 and http/1.1 over TLS; the Tempo API answers over h2', () => {
  for (const base of [https(query.query), https(collector.otlp_http)]) {
    const path1 = base.includes(query.query) ? '/api/search?limit=5' : '/v1/traces';
    const h2 = curlTls(base + path1, ['--http2']);
    assert.equal(h2.code, 0, h2.stderr);
    assert.match(h2.tail, / 2$/, `${base} over h2: ${h2.tail}`);
    const h1 = curlTls(base + path1, ['--http1.1']);
    assert.match(h1.tail, / 1\.1$/, `${base} over http/1.1: ${h1.tail}`);
  }
  const search = curlTls(`${https(query.query)}/api/search?limit=5`, ['--http2']);
  assert.match(search.tail, /^200 /);
  assert.ok(JSON.parse(search.body).traces.length >= 3, search.body);
});

test('plaintext to a TLS port is refused, and the port goes on serving TLS', () => {
  for (const port of [query.query, collector.otlp_http]) {
    const r = curl(['-m', '10', `http://${port}/healthz`]);
    assert.notEqual(r.status, 0, `plaintext to ${port} got an answer: ${r.stdout}`);
    const ok = curlTls(`${https(port)}/healthz`);
    assert.equal(ok.code, 0, ok.stderr);
  }
});

test('mTLS: without a client certificate the handshake fails; with one signed by the CA it works', () => {
  const without = curlTls(`${https(mtlsQuery.query)}/healthz`);
  assert.notEqual(without.code, 0, 'no client certificate, yet an answer');
  const withCert = curlTls(`${https(mtlsQuery.query)}/api/traces`, ['--cert', certs.clientCert, '--key', certs.clientKey]);
  assert.equal(withCert.code, 0, withCert.stderr);
  assert.match(withCert.tail, /^200 /);
  const rogue = curlTls(`${https(mtlsQuery.query)}/healthz`, ['--cert', certs.rogueCert, '--key', certs.rogueKey]);
  assert.notEqual(rogue.code, 0, 'a client certificate the CA did not sign');
  const serverCert = curlTls(`${https(mtlsQuery.query)}/healthz`, ['--cert', certs.cert2, '--key', certs.key2]);
  assert.notEqual(serverCert.code, 0, 'a server certificate (serverAuth only) as a client one');
});

function peerName(hostPort) {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port: Number(port), ca, servername: 'localhost' }, () => {
      resolve(s.getPeerCertificate().subject.CN);
      s.end();
    });
    s.on('error', reject);
  });
}

test('a key that is not the certificate\'s, a key that is no PEM, a file that is missing: each refused by its own cause', () => {
  const notPem = path.join(certs.dir, 'not-a-key.txt');
  writeFileSync(notPem, 'hello\n');
  const cases = [
    [certs.cert, certs.key2, /ARBOR_TLS_KEY: is not the private key of ARBOR_TLS_CERT's certificate/],
    [certs.cert, notPem, /ARBOR_TLS_KEY: cannot be read as a PEM private key/],
    [certs.cert, path.join(certs.dir, 'missing.key'), /ARBOR_TLS_KEY: cannot be read$/m],
    [notPem, certs.key, /ARBOR_TLS_CERT: cannot be read as PEM certificates/],
  ];
  for (const bin of [BIN.collector, BIN.query]) {
    for (const [cert, key, re] of cases) {
      const r = spawnSync(bin, ['--check-config'], { encoding: 'utf8',
        env: { ...process.env, ARBOR_TLS_CERT: cert, ARBOR_TLS_KEY: key } });
      assert.equal(r.status, 2, `${path.basename(bin)} ${path.basename(cert)} ${path.basename(key)}`);
      assert.match(r.stderr, re);
    }
  }
});

test('SIGHUP re-reads the certificate without dropping a streaming wss client', async () => {
  assert.equal(await peerName(query.query), 'arbor-server-1');
  const trace = hex(0x7155, 32);
  const send = (id, name) => new Promise((resolve, reject) => {
    const body = JSON.stringify({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans: [
      span({ trace, id, parent: id === 1 ? undefined : 1, name, start: 1_000_000_000n * BigInt(id) })] }] }] });
    const r = curl(['--cacert', certs.ca, '-H', `Authorization: Bearer ${WRITER}`, '-H', 'content-type: application/json',
      '-d', body, '-w', '%{http_code}', '-o', '/dev/null', `${https(collector.otlp_http)}/v1/traces`]);
    return r.stdout.toString() === '200' ? resolve() : reject(new Error(`POST ${r.stdout} ${r.stderr}`));
  });
  await send(1, 'before-reload');
  const frames = [];
  const ws = new WebSocket(`wss://${query.query}/api/traces/${trace}/live`, ['orcheo-auth', `bearer.${READER}`], { ca });
  ws.on('error', (e) => frames.push(`error: ${e.message}`));
  ws.on('message', (m) => frames.push(String(m)));
  await eventually(() => frames.some((f) => f.includes('before-reload')));
  let closed = false;
  ws.on('close', () => { closed = true; });
  copyFileSync(certs.cert2, path.join(certs.dir, 'live.pem'));
  copyFileSync(certs.key2, path.join(certs.dir, 'live.key'));
  for (const d of [query, collector]) {
    const before = (d.log.match(/event=reloaded/g) || []).length;
    d.proc.kill('SIGHUP');
    await eventually(() => (d.log.match(/event=reloaded/g) || []).length > before);
  }
  assert.equal(await peerName(query.query), 'arbor-server-2', 'a new connection gets the new certificate');
  assert.equal(await peerName(collector.otlp_http), 'arbor-server-2');
  await send(2, 'after-reload'); // a new TLS connection to the collector, new certificate
  await eventually(() => frames.some((f) => f.includes('after-reload')));
  assert.equal(closed, false, 'the stream survived the reload');
  ws.close();
});

await run();
