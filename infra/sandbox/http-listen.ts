import type { Server } from 'node:http';

export interface Listening {
  url: string;
  port: number;
  /** Stops listening and drops every open connection (hung requests included). */
  close(): Promise<void>;
}

/** Starts a sandbox or demo HTTP server (port 0 = any free port) and gives back its URL and a hard close. */
export async function listenHttp(server: Server, port = 0, host = '127.0.0.1'): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
