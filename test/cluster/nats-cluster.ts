import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { freePort } from '../../infra/runtime/local-services.ts';
import { eventually } from '../support/context.ts';

/**
 * A 3-node nats-server JetStream cluster on loopback ports, started from the PATH: each node its own
 * store directory, client port and route port, routes to the other two. `kill(i)` SIGKILLs node i.
 */
export interface NatsNode {
  name: string;
  url: string;
  proc: ChildProcess;
  alive: boolean;
}

export async function startNatsCluster(size = 3): Promise<{ nodes: NatsNode[]; url: string; urlFrom(i: number): string; kill(i: number): Promise<void>; stop(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'orderpilot-nats-cluster-'));
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort() })));
  const nodes: NatsNode[] = ports.map((p, i) => {
    const name = `n${i + 1}`;
    const routes = ports.filter((_, j) => j !== i).map((q) => `nats://127.0.0.1:${q.route}`).join(',');
    const proc = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(p.client), '-n', name, '-js', '-sd', path.join(dir, name), '--cluster_name', 'orderpilot-test', '--cluster', `nats://127.0.0.1:${p.route}`, '--routes', routes], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const node: NatsNode = { name, url: `nats://127.0.0.1:${p.client}`, proc, alive: true };
    proc.once('exit', () => (node.alive = false));
    return node;
  });
  const kill = async (i: number) => {
    const n = nodes[i];
    if (!n?.alive) return;
    const exited = new Promise((r) => n.proc.once('exit', r));
    n.proc.kill('SIGKILL');
    await exited;
  };
  const stop = async () => {
    for (let i = 0; i < nodes.length; i++) await kill(i);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // Ready when every node answers JetStream (a meta leader is elected and knows all peers).
    await eventually(async () => {
      for (const n of nodes) {
        const nc = await connect({ servers: n.url, timeout: 2000, reconnect: false });
        try {
          const jsm = await jetstreamManager(nc);
          await jsm.getAccountInfo();
        } finally {
          await nc.close();
        }
      }
      return true;
    }, 'a 3-node JetStream cluster', 60_000, 250);
  } catch (err) {
    await stop();
    throw err;
  }
  const urls = nodes.map((n) => n.url);
  return {
    nodes,
    url: urls.join(','),
    /** The cluster's servers, node i first (the client's first choice; it fails over to the rest). */
    urlFrom: (i: number) => [...urls.slice(i), ...urls.slice(0, i)].join(','),
    kill,
    stop,
  };
}
