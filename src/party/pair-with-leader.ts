/**
 * The member's side of meeting a leader before joining: read its server-hello (what party it
 * is, whether it needs a secret), and pair with the join code (SPAKE2, see spake2.ts). The
 * member checks the leader's confirmation before sending its own, so a stranger posing as the
 * leader learns nothing it could test code guesses against.
 */
import { createDecipheriv } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { z } from 'zod';
import { JsonLineConnection, PROTOCOL_VERSION, leaderToMember, type LeaderMessage, type MemberMessage, type PartyInfo } from '../protocol/index.js';
import { normalizeJoinCode } from './join-code.js';
import type { Spake2 } from './spake2.js';

export type ServerHello = Extract<LeaderMessage, { type: 'server-hello' }>;

const sealedSchema = z.object({ key: z.string().regex(/^[0-9a-f]{64}$/), party: z.object({ name: z.string().min(1).max(64), id: z.string().regex(/^[0-9a-f]{16}$/) }) });

export interface PairResult {
  party: Required<PartyInfo>;
  /** this member's own key, issued by the leader */
  key: string;
}

/** Talks to the leader message by message until `step` returns a result (or throws). */
function converse<T>(host: string, port: number, timeoutMs: number, step: (m: LeaderMessage, send: (m: MemberMessage) => void) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let socket: Socket | null = null;
    const finish = (error: Error | null, value?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      if (error) reject(error);
      else resolve(value as T);
    };
    const timer = setTimeout(() => finish(new Error(`the leader at ${host}:${port} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    socket = connect({ host, port });
    socket.on('error', (e: NodeJS.ErrnoException) =>
      finish(new Error(e.code === 'ECONNREFUSED' ? `no leader listening at ${host}:${port} (is \`syncplay leader\` running there?)` : `cannot reach the leader at ${host}:${port}: ${e.message}`)),
    );
    const conn = new JsonLineConnection<LeaderMessage, MemberMessage>(socket, leaderToMember, {
      onMessage: (m) => {
        if (settled) return;
        if (m.type === 'error') return finish(new Error(`the leader says: ${m.message}`));
        try {
          const result = step(m, (out) => conn.send(out));
          if (result !== undefined) finish(null, result);
        } catch (e) {
          finish(e as Error);
        }
      },
      onBadInput: (code, detail) => finish(new Error(`the leader at ${host}:${port} sent bad input (${code}: ${detail})`)),
      onClose: () => finish(new Error(`the leader at ${host}:${port} closed the connection`)),
    });
  });
}

/** The leader's server-hello: protocol, party, whether it requires a secret and offers pairing. */
export function readServerHello(host: string, port: number, timeoutMs = 5000): Promise<ServerHello> {
  return converse(host, port, timeoutMs, (m) => (m.type === 'server-hello' ? m : undefined));
}

/** Pairs with the leader using the join code; returns the party and this member's own key. */
export async function pairWithLeader(o: { host: string; port: number; code: string; name: string; version: string; timeoutMs?: number }): Promise<PairResult> {
  const digits = normalizeJoinCode(o.code);
  if (digits === null) throw new Error(`a join code is 8 digits, like 1234-5678 (got "${o.code.slice(0, 20)}")`);
  // The curve arithmetic loads only to pair (once per device), not on every member start.
  const { Spake2, confirmationsMatch, passwordScalar } = await import('./spake2.js');
  const { pairWelcomeAad } = await import('./party-access.js');
  let spake: Spake2 | null = null;
  let partyId = '';
  let keys: ReturnType<Spake2['finish']> | null = null;
  return converse(o.host, o.port, o.timeoutMs ?? 10_000, (m, send) => {
    switch (m.type) {
      case 'server-hello': {
        if (m.protocol !== PROTOCOL_VERSION) throw new Error(`the leader speaks protocol ${m.protocol} (syncplay ${m.version}), this device ${PROTOCOL_VERSION}: run the same version everywhere`);
        if (!m.pairing || !m.party?.id) throw new Error('this leader is open (no pairing needed): join without --join');
        partyId = m.party.id;
        spake = new Spake2('A', passwordScalar(partyId, digits), o.name, partyId);
        send({ type: 'pair-start', protocol: PROTOCOL_VERSION, name: o.name, version: o.version, spake: spake.message.toString('hex') });
        return undefined;
      }
      case 'pair-challenge': {
        if (!spake) throw new Error('the leader sent a pairing challenge out of turn');
        keys = spake.finish(Buffer.from(m.spake, 'hex'));
        if (!confirmationsMatch(keys.theirConfirm, m.confirm)) {
          throw new Error('wrong join code (or not the leader you meant): check the code with `syncplay ctl pair` on the leader');
        }
        send({ type: 'pair-confirm', confirm: keys.myConfirm.toString('hex') });
        return undefined;
      }
      case 'pair-welcome': {
        if (!keys) throw new Error('the leader sent a pairing welcome out of turn');
        const decipher = createDecipheriv('aes-256-gcm', keys.ke, Buffer.from(m.iv, 'hex'));
        decipher.setAAD(Buffer.from(pairWelcomeAad(partyId, o.name)));
        decipher.setAuthTag(Buffer.from(m.tag, 'hex'));
        let plain: string;
        try {
          plain = Buffer.concat([decipher.update(Buffer.from(m.sealed, 'hex')), decipher.final()]).toString('utf8');
        } catch {
          throw new Error('the pairing welcome did not decrypt: not from the leader the code belongs to');
        }
        const parsed = sealedSchema.safeParse(JSON.parse(plain));
        if (!parsed.success || parsed.data.party.id !== partyId) throw new Error('the pairing welcome is malformed');
        return { party: parsed.data.party, key: parsed.data.key };
      }
      default:
        return undefined;
    }
  });
}
