/**
 * Asks mpv whether it can open an audio output at all, by playing a fraction of a second of a
 * file with the same output options the member will use. Machines without a sound card (CI,
 * servers, containers) answer no; the caller then says so and falls back or warns.
 */
import { spawn } from 'node:child_process';

export async function canOpenAudioOutput(file: string, mpvArgs: string[], mpvPath = 'mpv'): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const child = spawn(mpvPath, ['--no-config', '--no-video', '--msg-level=all=warn', '--volume=0', '--end=0.05', ...mpvArgs, file], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: e.message });
    });
    child.on('close', () => {
      clearTimeout(timer);
      const failed = /Could not open\/initialize audio device|no sound/i.test(output);
      resolve({ ok: !failed, detail: failed ? 'mpv could not open any audio output' : 'ok' });
    });
  });
}
