/**
 * Discovery on a LAN of network namespaces (never on the host's own network): leaders announce
 * their party with mDNS, `syncplay discover` lists them, a member without --ip finds its leader,
 * --party picks among several, an ambiguous choice is an error listing them, and a network
 * without multicast gives a clear error naming --ip.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendControl } from '../../src/cli/ctl-command.js';
import { NetnsLan, type LanNode } from '../../bench/netns-lan.js';
import { BIN, BUNDLED_DIR, Proc } from './harness.js';
import { PROTOCOL_VERSION } from '../../src/protocol/index.js';

describe('discovery on a namespace LAN', () => {
  const tag = `spz${process.pid % 100000}`;
  const tmp = mkdtempSync(join(tmpdir(), 'syncplay-discovery-'));
  const procs: Proc[] = [];
  let lan: NetnsLan;
  let quiet: NetnsLan;
  let alpha: LanNode;
  let bravo: LanNode;
  let member: LanNode;

  const run = (lanOf: NetnsLan, node: LanNode, label: string, args: string[]): Proc => {
    const p = new Proc(label, lanOf.spawn(node, [process.execPath, BIN, ...args], { XDG_STATE_HOME: join(tmp, `${label}-xdg`) }));
    procs.push(p);
    return p;
  };
  const startLeader = async (lanOf: NetnsLan, node: LanNode, party: string, extra: string[] = [], ready = /announced on the local network as "/): Promise<Proc> => {
    const p = run(lanOf, node, `leader-${party}`, ['leader', '--music-dir', BUNDLED_DIR, '--host', '0.0.0.0', '--port', '7655', '--no-ui', '--party-name', party, '--socket', join(tmp, `${party}.sock`), '--state-dir', join(tmp, `${party}-state`), ...extra]);
    await p.waitForLine(ready, 20_000);
    return p;
  };
  const finished = async (p: Proc): Promise<number | null> => (await p.exited).code;

  beforeAll(async () => {
    lan = new NetnsLan(tag, '10.231.7');
    alpha = lan.addNode();
    bravo = lan.addNode();
    member = lan.addNode();
    quiet = new NetnsLan(`${tag}q`, '10.231.8', false);
    await Promise.all([startLeader(lan, alpha, 'alpha'), startLeader(lan, bravo, 'bravo', ['--open'])]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    lan?.destroy();
    quiet?.destroy();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('discover --json lists both leaders with their TXT records', async () => {
    const p = run(lan, member, 'discover', ['discover', '--json', '--timeout', '3000']);
    expect(await finished(p)).toBe(0);
    const out = JSON.parse(p.lines.filter((l) => l.startsWith('[stdout] ')).map((l) => l.slice(9)).join('\n')) as { leaders: { partyName: string; host: string; port: number; pairingRequired: boolean; protocol: number; clock: string; partyId: string | null }[] };
    const byName = Object.fromEntries(out.leaders.map((l) => [l.partyName, l]));
    expect(byName.alpha).toMatchObject({ host: alpha.address, port: 7655, pairingRequired: true, protocol: PROTOCOL_VERSION, clock: 'monotonic', partyId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(byName.bravo).toMatchObject({ host: bravo.address, port: 7655, pairingRequired: false, partyId: null });
  });

  it('a member without --ip and two leaders: an error listing both; --party picks one', async () => {
    const ambiguous = run(lan, member, 'ambiguous', ['member', '--music-dir', BUNDLED_DIR, '--mpv-arg=--ao=null']);
    expect(await finished(ambiguous)).toBe(1);
    expect(ambiguous.output).toMatch(/2 leaders found on the local network: pick one with --party NAME/);
    expect(ambiguous.output).toContain(`"alpha" at ${alpha.address}:7655 (pairing required)`);
    expect(ambiguous.output).toContain(`"bravo" at ${bravo.address}:7655 (open)`);

    const follower = run(lan, member, 'bravo-member', ['member', '--music-dir', BUNDLED_DIR, '--party', 'bravo', '--name', 'den', '--mpv-arg=--ao=null']);
    await follower.waitForLine(new RegExp(`found "bravo" at ${bravo.address.replace(/\./g, '\\.')}:7655 \\(open\\) in \\d+ ms`), 20_000);
    await follower.waitForLine(new RegExp(`joined leader ${bravo.address.replace(/\./g, '\\.')}:7655 as "den"`), 20_000);
    await follower.stop();
  });

  it('finds and pairs with the secure party using only --party and the join code', async () => {
    const pair = await sendControl({ cmd: 'pair' }, join(tmp, 'alpha.sock'));
    const code = (pair.pairing as { code: string }).code;
    const kitchen = run(lan, member, 'alpha-member', ['member', '--music-dir', BUNDLED_DIR, '--party', 'alpha', '--name', 'kitchen', '--join', code, '--mpv-arg=--ao=null']);
    await kitchen.waitForLine(/paired with party "alpha" as "kitchen"/, 20_000);
    await kitchen.waitForLine(new RegExp(`joined leader ${alpha.address.replace(/\./g, '\\.')}:7655 as "kitchen"`), 20_000);
    await kitchen.stop();
  });

  it('on a network without multicast: a clear error after the timeout, naming --ip', async () => {
    const a = quiet.addNode();
    const b = quiet.addNode();
    await startLeader(quiet, a, 'hushed', ['--open'], /leader listening on 0\.0\.0\.0:7655/); // its announcements go nowhere; it still serves
    const lonely = run(quiet, b, 'lonely', ['member', '--music-dir', BUNDLED_DIR, '--discover-timeout', '2000', '--mpv-arg=--ao=null']);
    expect(await finished(lonely)).toBe(1);
    expect(lonely.output).toMatch(/no leader answered on the local network within 2 s.*give the leader's address with --ip ADDRESS/);
    // --ip keeps working there.
    const direct = run(quiet, b, 'direct', ['member', '--ip', a.address, '--port', '7655', '--music-dir', BUNDLED_DIR, '--name', 'direct', '--mpv-arg=--ao=null']);
    await direct.waitForLine(new RegExp(`joined leader ${a.address.replace(/\./g, '\\.')}:7655 as "direct"`), 20_000);
    await direct.stop();
  });
});
