/** Where the leader's local control socket lives unless --socket says otherwise. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultControlSocketPath(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  return runtime ? join(runtime, 'syncplay', 'leader.sock') : join(homedir(), '.syncplay', 'leader.sock');
}
