/**
 * A small LAN made of network namespaces: a "switch" namespace holding a bridge, and nodes each
 * in their own namespace, joined to the bridge by a veth pair, with multicast on and a route
 * for 224.0.0.0/4 on that link. Nothing touches the host's own interfaces. Needs root and `ip`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

export interface LanNode {
  ns: string;
  address: string;
}

const ip = (...args: string[]): void => {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
};

export class NetnsLan {
  readonly nodes: LanNode[] = [];
  private readonly namespaces: string[] = [];
  private readonly sw: string;
  private next = 1;

  /** @param multicast false builds a LAN whose links carry no multicast and have no route for it */
  constructor(private readonly tag: string, private readonly subnet: string, private readonly multicast = true) {
    this.sw = `${tag}-sw`;
    this.addNs(this.sw);
    ip('-n', this.sw, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', this.sw, 'link', 'set', 'br0', 'up');
  }

  private addNs(ns: string): void {
    ip('netns', 'add', ns);
    this.namespaces.push(ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }

  addNode(): LanNode {
    const n = this.next++;
    const ns = `${this.tag}-n${n}`;
    this.addNs(ns);
    const host = `${this.tag}h${n}`.slice(0, 15);
    const port = `${this.tag}p${n}`.slice(0, 15);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', port);
    // Both ends leave the host namespace at once.
    ip('link', 'set', host, 'netns', ns);
    ip('link', 'set', port, 'netns', this.sw);
    ip('-n', this.sw, 'link', 'set', port, 'master', 'br0');
    ip('-n', this.sw, 'link', 'set', port, 'up');
    ip('-n', ns, 'link', 'set', host, 'name', 'eth0');
    const address = `${this.subnet}.${n}`;
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'multicast', this.multicast ? 'on' : 'off');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    if (this.multicast) ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0');
    const node = { ns, address };
    this.nodes.push(node);
    return node;
  }

  /** Runs a command inside a node's namespace (`ip netns exec` becomes the command: same pid). */
  spawn(node: LanNode, command: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', node.ns, ...command], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } });
  }

  destroy(): void {
    for (const ns of this.namespaces.reverse()) {
      try {
        ip('netns', 'del', ns);
      } catch {
        /* already gone */
      }
    }
  }
}
