/**
 * The web remote's link as a QR code drawn with text, for the leader's log and terminal UI.
 * Each text line holds two rows of modules (▀ top, ▄ bottom, █ both), so a 60-character link
 * (version 4, 33 modules, plus a 2-module quiet zone) takes 19 lines of 37 columns. The lines
 * are meant to be drawn dark on light (ANSI black on white); scanners need that contrast.
 */
import QRCode from 'qrcode';

const QUIET = 2;

/**
 * `lightOnDark`: draw the light modules instead, for text shown light on a dark background with
 * no colours (a log read in a terminal): the code then reads dark on light all the same.
 */
export function qrLines(text: string, lightOnDark = false): string[] {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'L' });
  const size = qr.modules.size;
  const dark = (r: number, c: number): boolean => r >= 0 && c >= 0 && r < size && c < size && qr.modules.get(r, c) === 1;
  const lines: string[] = [];
  for (let r = -QUIET; r < size + QUIET; r += 2) {
    let line = '';
    for (let c = -QUIET; c < size + QUIET; c++) {
      const top = dark(r, c) !== lightOnDark;
      const bottom = dark(r + 1, c) !== lightOnDark;
      line += top && bottom ? '█' : top ? '▀' : bottom ? '▄' : ' ';
    }
    lines.push(line);
  }
  return lines;
}

/** The QR code for a log: black on white with ANSI colours on a terminal, else light-on-dark text. */
export function qrForLog(text: string, colours: boolean): string {
  if (!colours) return qrLines(text, true).join('\n');
  return qrLines(text)
    .map((l) => `\x1b[30;47m${l}\x1b[0m`)
    .join('\n');
}
