/**
 * Opens the leader's terminal UI on this terminal (alternate screen, raw keys) and resolves when
 * the user quits it or the process gets SIGINT / SIGTERM. The terminal is restored before it
 * resolves; the caller then shuts the leader down.
 */
import { render } from 'ink';
import { LiveLeaderApp, type UiSource } from './leader-app.js';

const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H\x1b[2J';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';

export interface RunLeaderUiOptions {
  source: UiSource;
  logs?: { lines(): readonly string[] };
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  /** the UI closes when this settles (the leader ends) */
  until?: Promise<unknown>;
}

export async function runLeaderUi(opts: RunLeaderUiOptions): Promise<'quit' | 'signal'> {
  const stdout = opts.stdout ?? process.stdout;
  const stdin = opts.stdin ?? process.stdin;
  let left = false;
  const leave = (): void => {
    if (left) return;
    left = true;
    stdout.write('\x1b[?25h' + LEAVE_ALT_SCREEN);
  };
  // Should anything kill the process while the UI is up, give the terminal back first.
  process.once('exit', leave);
  stdout.write(ENTER_ALT_SCREEN);

  let settle: (why: 'quit' | 'signal') => void = () => {};
  const ended = new Promise<'quit' | 'signal'>((resolve) => (settle = resolve));
  const onSignal = (): void => settle('signal');
  void opts.until?.then(onSignal, onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const instance = render(<LiveLeaderApp source={opts.source} logs={opts.logs} onQuit={() => settle('quit')} />, {
    stdout,
    stdin,
    exitOnCtrlC: false,
    patchConsole: true,
    maxFps: 20,
    // Rewrite only the lines that changed (the frame is kept shorter than the terminal for this).
    incrementalRendering: true,
  });
  try {
    return await ended;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    instance.unmount();
    await instance.waitUntilExit().catch(() => {});
    instance.cleanup();
    leave();
    process.off('exit', leave);
  }
}
