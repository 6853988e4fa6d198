import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../../infra/logger.ts';

/**
 * The inspector bridge: a page that embeds Stately's inspector UI and a WebSocket relay between the
 * order host (which reports transitions) and the browser. The same relay as `@statelyai/inspect/server`,
 * but listening on the configured HOST only (default 127.0.0.1): the snapshots it relays hold
 * customers' names, addresses and tax ids, so it must never be open on every interface by accident.
 */
export interface InspectorBridge {
  /** Resolves once the bridge listens; `url` is the page to open. */
  readonly ready: Promise<{ url: string; port: number; address: string }>;
  stop(): void;
}

const MAX_BUFFER = 200;

function bridgePage(inspectorUrl: string): string {
  // The WebSocket is opened back to the host that served the page (whatever HOST the bridge has).
  return `<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>orderpilot — Stately inspector</title>
  <style>* { margin: 0; padding: 0; } html, body { height: 100%; } iframe { width: 100%; height: 100%; border: none; }</style>
</head>
<body>
  <iframe id="inspector" src="${inspectorUrl}"></iframe>
  <script>
    const iframe = document.getElementById('inspector');
    const buffer = [];
    let connected = false;
    window.addEventListener('message', (e) => {
      if (e.data && e.data.type === '@statelyai.connected') {
        connected = true;
        buffer.forEach((event) => iframe.contentWindow.postMessage(event, '*'));
        buffer.length = 0;
      }
    });
    const ws = new WebSocket('ws://' + location.host);
    ws.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (connected) iframe.contentWindow.postMessage(data, '*');
      else buffer.push(data);
    };
  </script>
</body>
</html>`;
}

export function startInspectorBridge(o: { host: string; port: number; logger: Logger; inspectorUrl?: string }): InspectorBridge {
  const page = bridgePage(o.inspectorUrl ?? 'https://stately.ai/inspect');
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(page);
  });
  const wss = new WebSocketServer({ server });
  const buffer: string[] = [];
  wss.on('connection', (ws) => {
    for (const msg of buffer) ws.send(msg);
    ws.on('message', (data) => {
      const msg = data.toString();
      buffer.push(msg);
      if (buffer.length > MAX_BUFFER) buffer.shift();
      for (const client of wss.clients) if (client !== ws && client.readyState === WebSocket.OPEN) client.send(msg);
    });
  });
  const ready = new Promise<{ url: string; port: number; address: string }>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      const a = server.address() as AddressInfo;
      const shown = o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host;
      resolve({ url: `http://${shown.includes(':') ? `[${shown}]` : shown}:${a.port}`, port: a.port, address: a.address });
    });
  });
  ready.catch((err: unknown) => o.logger.error({ err: err instanceof Error ? err.message : String(err), host: o.host, port: o.port }, 'inspector bridge could not listen'));
  return {
    ready,
    stop() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.close();
    },
  };
}
