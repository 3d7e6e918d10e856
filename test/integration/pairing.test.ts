/**
 * Secure by default: a leader started without --open creates its party secret and admits only
 * members that prove they hold it: a copy of the secret, or a pairing made once with the join
 * code (SPAKE2). Everything between member and leader goes through a recording proxy, as a LAN
 * eavesdropper would see it; the capture is then searched and replayed.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, JsonLines, memberNamed, sleep } from './harness.js';
import { RecordingProxy } from './recording-proxy.js';

async function joinCode(cluster: Cluster): Promise<string> {
  const reply = await cluster.ctl({ cmd: 'pair' });
  expect(reply.ok).toBe(true);
  return (reply.pairing as { code: string }).code;
}

/** Sends recorded member → leader lines to a fresh connection and returns what the leader answered. */
async function replay(port: number, lines: string[]): Promise<Record<string, unknown>[]> {
  const c = await JsonLines.connect(port);
  try {
    await c.next((m) => m.type === 'server-hello');
    for (const line of lines) c.socket.write(line + '\n');
    await c.next((m) => m.type === 'error' || m.type === 'welcome' || m.type === 'pair-welcome', 5000);
    await sleep(200);
    return c.received;
  } finally {
    c.close();
  }
}

const linesOf = (chunks: Buffer[]): string[] => Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l.trim() !== '');

describe('pairing', () => {
  let cluster: Cluster;
  let proxy: RecordingProxy | null = null;
  const conns: JsonLines[] = [];
  afterEach(async () => {
    for (const c of conns.splice(0)) c.close();
    await proxy?.stop();
    proxy = null;
    await cluster?.cleanup();
  });

  it('a leader without --open creates a 0600 party secret and refuses members without it', async () => {
    cluster = new Cluster('syncplay-default-secret');
    const leader = await cluster.startLeader({ secure: true });
    const secretFile = join(cluster.tmp, 'leader-state', 'party-secret');
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    expect(leader.proc.output).toMatch(/created the party secret in .*party-secret/);
    expect(leader.proc.output).toMatch(/secret required/);
    const c = await JsonLines.connect(leader.port);
    conns.push(c);
    expect(await c.next((m) => m.type === 'server-hello')).toMatchObject({ authRequired: true, pairing: true, party: { id: expect.stringMatching(/^[0-9a-f]{16}$/) } });

    // Without a terminal and without --join, an unpaired member says how to pair and exits.
    const stranger = await cluster.run(['member', '--ip', '127.0.0.1', '--port', String(leader.port), '--music-dir', cluster.tmp, '--state-dir', join(cluster.tmp, 'stranger'), '--mpv-arg=--ao=null']);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toMatch(/needs this device to pair once: run {2}syncplay member --join CODE/);
    await cluster.startMember({ name: 'scripted', secretFile });
  });

  it('the right code pairs once; wrong codes, replays and revoked members are refused; nothing secret crosses the wire', async () => {
    cluster = new Cluster('syncplay-pairing');
    const leader = await cluster.startLeader({ secure: true });
    proxy = new RecordingProxy(leader.port);
    await proxy.start();
    const code = await joinCode(cluster);
    expect(code).toMatch(/^\d{4}-\d{4}$/);
    const wrongCode = code === '0000-0001' ? '0000-0002' : '0000-0001';
    const kitchenState = join(cluster.tmp, 'kitchen-state');
    const base = ['member', '--ip', '127.0.0.1', '--port', String(proxy.port), '--music-dir', cluster.tmp, '--mpv-arg=--ao=null'];

    // Wrong code: refused on both sides, nothing stored.
    const wrong = await cluster.run([...base, '--name', 'kitchen', '--state-dir', kitchenState, '--join', wrongCode]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/wrong join code/);
    await leader.proc.waitForLine(/pairing of "kitchen" abandoned before confirming/);
    expect(() => statSync(join(kitchenState, 'pairings.json'))).toThrow();

    // Right code: pairs, stores a 0600 pairing, joins; later starts need no code.
    const pairingConnections = proxy.connections.length;
    const first = await cluster.startMember({ name: 'kitchen', port: proxy.port, args: ['--state-dir', kitchenState, '--join', code] });
    await first.proc.waitForLine(/paired with party ".*" as "kitchen"/);
    await leader.proc.waitForLine(/member "kitchen" paired with the join code/);
    const pairingsFile = join(kitchenState, 'pairings.json');
    expect(statSync(pairingsFile).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(pairingsFile, 'utf8')) as { parties: Record<string, { key: string; memberName: string }> };
    const [entry] = Object.values(stored.parties);
    expect(entry).toMatchObject({ memberName: 'kitchen', key: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // The successful pairing's connection, then the member's handshake, as recorded.
    const since = proxy.connections.slice(pairingConnections);
    const pairingRecord = since.find((c) => Buffer.concat(c.down).includes('pair-welcome'))!;
    const handshakeRecord = since.find((c) => Buffer.concat(c.up).includes('"hello"'))!;
    expect(pairingRecord).toBeDefined();
    expect(handshakeRecord).toBeDefined();
    await first.proc.stop();
    const again = await cluster.startMember({ name: 'kitchen', port: proxy.port, args: ['--state-dir', kitchenState] });
    expect(again.proc.output).not.toMatch(/paired with party/);
    await again.proc.stop();

    // Nothing secret on the wire: not the party secret, not the member's key, not the code.
    const wire = proxy.all().toString('latin1');
    const secret = readFileSync(join(cluster.tmp, 'leader-state', 'party-secret'), 'utf8').trim();
    const digits = code.replace('-', '');
    for (const needle of [secret, Buffer.from(secret, 'base64url').toString('hex'), entry!.key, digits, code]) expect(wire).not.toContain(needle);
    expect(wire).toContain('pair-start'); // the capture did see the pairing

    // A recorded pairing replayed: the leader's fresh SPAKE2 value makes the old confirmation wrong.
    const replayedPairing = await replay(leader.port, linesOf(pairingRecord.up));
    expect(replayedPairing.find((m) => m.type === 'pair-welcome')).toBeUndefined();
    expect(replayedPairing.find((m) => m.type === 'error')).toMatchObject({ code: 'pair-failed' });
    // A recorded handshake replayed: the leader's fresh nonce makes the old proof wrong.
    const replayedHello = await replay(leader.port, linesOf(handshakeRecord.up).filter((l) => l.includes('"hello"')));
    expect(replayedHello.find((m) => m.type === 'welcome')).toBeUndefined();
    expect(replayedHello.find((m) => m.type === 'error')).toMatchObject({ code: 'auth-failed' });

    // Revoked: ctl forget disconnects it, and its stored pairing no longer admits it.
    const live = await cluster.startMember({ name: 'kitchen', port: proxy.port, args: ['--state-dir', kitchenState] });
    const forgot = await cluster.ctl({ cmd: 'forget', member: 'kitchen' });
    expect(forgot).toMatchObject({ ok: true });
    await live.proc.waitForLine(/leader error (closing|auth-failed)/);
    await leader.proc.waitForLine(/refused "kitchen": wrong secret \(not paired, or removed\)/);
    await sleep(1500);
    expect(memberNamed(await cluster.status(), 'kitchen')?.connected ?? false).toBe(false);
    const pairing = (await cluster.ctl({ cmd: 'pair' })).pairing as { paired: { name: string }[] };
    expect(pairing.paired.map((p) => p.name)).not.toContain('kitchen');
  });

  it('ctl pair --new replaces the code: the old one no longer pairs, the new one does', async () => {
    cluster = new Cluster('syncplay-pair-new');
    const leader = await cluster.startLeader({ secure: true });
    const old = await joinCode(cluster);
    const rotated = await cluster.ctl({ cmd: 'pair', new: true });
    const fresh = (rotated.pairing as { code: string }).code;
    expect(fresh).not.toBe(old);
    const base = ['member', '--ip', '127.0.0.1', '--port', String(leader.port), '--music-dir', cluster.tmp, '--mpv-arg=--ao=null', '--name', 'porch', '--state-dir', join(cluster.tmp, 'porch')];
    const stale = await cluster.run([...base, '--join', old]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/wrong join code/);
    await cluster.startMember({ name: 'porch', args: ['--state-dir', join(cluster.tmp, 'porch'), '--join', fresh] });
  });

  it('the calibrator goes through the same pairing: refused without one, joins with the code', async () => {
    cluster = new Cluster('syncplay-calibrator-pairing');
    const leader = await cluster.startLeader({ secure: true });
    const base = ['calibrate', '--ip', '127.0.0.1', '--port', String(leader.port), '--state-dir', join(cluster.tmp, 'mic'), '--dry-run'];
    const refused = await cluster.run(base);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/needs this device to pair once/);
    const paired = await cluster.run([...base, '--join', await joinCode(cluster)]);
    expect(paired.code).toBe(1);
    // It got as far as asking the leader for its members: pairing and handshake passed.
    expect(paired.stderr).toMatch(/no members are connected to the leader/);
    await leader.proc.waitForLine(/member "calibrate@.*" paired with the join code/);
  });
});
