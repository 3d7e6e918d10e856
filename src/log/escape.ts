/**
 * Text from the network (member names, track titles, parse errors quoting input) is printed to
 * logs, the terminal UI and `syncplay ctl`. Control characters would let it move the cursor,
 * recolour or clear a terminal, or forge log lines, so they are shown escaped instead: C0
 * controls (including ESC, CR and LF), DEL, C1 controls (U+0080–U+009F, also CSI on some
 * terminals) and the bidirectional overrides that reorder what is displayed (U+202A–U+202E,
 * U+2066–U+2069). Tab is kept as a space. Everything else passes through unchanged.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One line of text, safe to print: control and reordering characters escaped, tabs as spaces. */
export function escapeText(text: string): string {
  return text.replace(/\t/g, ' ').replace(UNSAFE, escapeChar);
}

/** Several lines of our own making whose content may hold network text: each line escaped, the line breaks kept. */
export function escapeLines(text: string): string {
  return text.split('\n').map(escapeText).join('\n');
}

/** True when the text holds nothing that escapeText would change (apart from tabs). */
export function isPrintable(text: string): boolean {
  UNSAFE.lastIndex = 0;
  return !UNSAFE.test(text);
}
