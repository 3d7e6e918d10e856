/**
 * Whether the leader opens its terminal UI: it needs a terminal both ways, and not --no-ui.
 * Ink draws only a final frame under CI (CI / CONTINUOUS_INTEGRATION set): headless there.
 */
export function terminalUiWanted(ui: boolean | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  const inCi = ['CI', 'CONTINUOUS_INTEGRATION'].some((k) => k in env && env[k] !== '0' && env[k] !== 'false');
  return ui !== false && process.stdout.isTTY === true && process.stdin.isTTY === true && !inCi;
}
