/** Asks the person at the terminal for the leader's join code (member or calibrator pairing). */
import { createInterface } from 'node:readline/promises';
import { escapeText } from '../log/escape.js';

export async function askJoinCode(partyName: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question(`Join code for party "${escapeText(partyName)}" (shown by the leader, or \`syncplay ctl pair\` there): `);
  } finally {
    rl.close();
  }
}
