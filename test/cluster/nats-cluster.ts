import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { freePort } from '../../infra/runtime/local-services.ts';
import { eventually } from '../support/context.ts';

/**
 * A nats-server JetStream cluster on loopback ports, started from the PATH: each node its own store
 * directory, client port and route port, routes to the others — the flags that match
 * infra/nats/cluster.conf (cluster `orderpilot`). `kill(i)` SIGKILLs node i, `restart(i)` starts it
 * again on its ports and store, `leaderOf(stream)` asks JetStream (`$JS.API.STREAM.INFO`) which node
 * leads a stream, `settled(stream)` waits until every replica of it is current again.
 */
export interface NatsNode {
  name: string;
  url: string;
  proc: ChildProcess;
  alive: boolean;
}

export interface NatsCluster {
  nodes: NatsNode[];
  /** Every node's URL, comma-separated (NATS_URL). */
  url: string;
  /** The cluster's servers, node i first (the client's first choice; it fails over to the rest). */
  urlFrom(i: number): string;
  kill(i: number): Promise<void>;
  restart(i: number): Promise<void>;
  /** The index of the node leading `stream` now, or null while it has no leader. */
  leaderOf(stream: string): Promise<number | null>;
  /** Resolves once `stream` has a leader and all its replicas are current (a restarted node caught up). */
  settled(stream: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'orderpilot-nats-cluster-'));
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), route: await freePort() })));
  const spawnNode = (i: number, node?: NatsNode): NatsNode => {
    const p = ports[i] as { client: number; route: number };
    const name = `n${i + 1}`;
    const routes = ports.filter((_, j) => j !== i).map((q) => `nats://127.0.0.1:${q.route}`).join(',');
    const proc = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(p.client), '-n', name, '-js', '-sd', path.join(dir, name), '--cluster_name', 'orderpilot', '--cluster', `nats://127.0.0.1:${p.route}`, '--routes', routes], { stdio: ['ignore', 'ignore', 'ignore'] });
    const n: NatsNode = node ?? { name, url: `nats://127.0.0.1:${p.client}`, proc, alive: true };
    n.proc = proc;
    n.alive = true;
    proc.once('exit', () => {
      if (n.proc === proc) n.alive = false;
    });
    return n;
  };
  const nodes: NatsNode[] = ports.map((_, i) => spawnNode(i));
  // Never leave a node behind when the process that started the cluster ends without stopping it.
  const onExit = () => nodes.forEach((n) => n.proc.kill('SIGKILL'));
  process.once('exit', onExit);

  /** Runs `f` against the first live node that answers. */
  const ask = async <T>(f: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>): Promise<T> => {
    let last: unknown = new Error('no live node');
    for (const n of nodes.filter((x) => x.alive)) {
      try {
        const nc = await connect({ servers: n.url, timeout: 2000, reconnect: false });
        try {
          return await f(await jetstreamManager(nc, { timeout: 3000 }));
        } finally {
          await nc.close();
        }
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };
  /** Every live node answers JetStream (a meta leader is elected and knows all peers). */
  const answering = () =>
    eventually(async () => {
      for (const n of nodes.filter((x) => x.alive)) {
        const nc = await connect({ servers: n.url, timeout: 2000, reconnect: false });
        try {
          await (await jetstreamManager(nc)).getAccountInfo();
        } finally {
          await nc.close();
        }
      }
      return true;
    }, `a ${size}-node JetStream cluster`, 90_000, 250);
  const kill = async (i: number) => {
    const n = nodes[i];
    if (!n?.alive) return;
    const exited = new Promise((r) => n.proc.once('exit', r));
    n.proc.kill('SIGKILL');
    await exited;
  };
  const stop = async () => {
    process.off('exit', onExit);
    for (let i = 0; i < nodes.length; i++) await kill(i);
    await rm(dir, { recursive: true, force: true });
  };
  /**
   * The meta leader knows every peer: a stream with a replica on each node can be placed. Answering
   * nodes are not enough — right after they start, a stream add can fail "no suitable peers for
   * placement" (JetStream 10005) while the last peer is still joining.
   */
  const placeable = () =>
    eventually(async () => {
      const probe = `placement_probe_${process.pid}_${Date.now()}`;
      return ask(async (jsm) => {
        await jsm.streams.add({ name: probe, subjects: [`${probe}.>`], num_replicas: size, storage: StorageType.Memory });
        await jsm.streams.delete(probe);
        return true;
      });
    }, `a stream with ${size} replicas placed on the cluster`, 90_000, 250);
  try {
    await answering();
    await placeable();
  } catch (err) {
    await stop();
    throw err;
  }
  const urls = nodes.map((n) => n.url);
  return {
    nodes,
    url: urls.join(','),
    urlFrom: (i: number) => [...urls.slice(i % size), ...urls.slice(0, i % size)].join(','),
    kill,
    async restart(i) {
      const n = nodes[i];
      if (n === undefined || n.alive) return;
      spawnNode(i, n);
      await answering();
    },
    async leaderOf(stream) {
      const info = await ask((jsm) => jsm.streams.info(stream));
      const i = nodes.findIndex((n) => n.name === info.cluster?.leader);
      return i < 0 ? null : i;
    },
    async settled(stream, timeoutMs = 120_000) {
      await eventually(async () => {
        const info = await ask((jsm) => jsm.streams.info(stream));
        const replicas = info.cluster?.replicas ?? [];
        return Boolean(info.cluster?.leader) && replicas.length === size - 1 && replicas.every((r) => r.current && !r.offline);
      }, `stream ${stream}: a leader and every replica current`, timeoutMs, 250);
    },
    stop,
  };
}
