/** `syncplay discover`: the leaders announcing a party on the local network. */
import { browseLeaders } from '../discovery/browse.js';
import { escapeText } from '../log/escape.js';

export async function runDiscover(o: { json?: boolean; timeout: number }): Promise<number> {
  const result = await browseLeaders({ timeoutMs: o.timeout, full: true });
  if (o.json) {
    process.stdout.write(JSON.stringify({ leaders: result.leaders, elapsedMs: result.elapsedMs, firstAnswerMs: result.firstAnswerMs, sendError: result.sendError }, null, 2) + '\n');
    return 0;
  }
  if (result.leaders.length === 0) {
    process.stderr.write(`no leader answered within ${o.timeout / 1000} s${result.sendError ? ` (multicast could not be sent: ${escapeText(result.sendError)})` : ''}; on a network without multicast DNS, members join with --ip ADDRESS\n`);
    return 1;
  }
  const rows = [['party', 'address', 'pairing', 'clock', 'protocol'], ...result.leaders.map((l) => [escapeText(l.partyName), `${l.host}:${l.port}`, l.pairingRequired ? 'required' : 'open', escapeText(l.clock ?? '?'), String(l.protocol ?? '?')])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd() + '\n');
  return 0;
}
