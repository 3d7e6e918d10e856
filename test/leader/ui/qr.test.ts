import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { qrLines } from '../../../src/leader/ui/qr.js';

describe('qrLines', () => {
  const url = 'http://192.168.1.20:7656/?token=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdEfG';

  it('draws every module of the code, two rows per line, with a quiet zone', () => {
    const qr = QRCode.create(url, { errorCorrectionLevel: 'L' });
    const size = qr.modules.size;
    const lines = qrLines(url);
    expect(lines).toHaveLength(Math.ceil((size + 4) / 2));
    for (const l of lines) expect([...l]).toHaveLength(size + 4);
    // Read the modules back from the half blocks and compare with the encoder's matrix.
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const ch = [...lines[(r + 2) >> 1]!][c + 2]!;
        const top = (r + 2) % 2 === 0;
        const dark = ch === '█' || (top ? ch === '▀' : ch === '▄');
        expect(dark, `module ${r},${c}`).toBe(qr.modules.get(r, c) === 1);
      }
    }
    expect(lines[0]!.trim()).toBe(''); // quiet zone
  });

  it('light-on-dark draws the inverse', () => {
    const a = qrLines(url).join('');
    const b = qrLines(url, true).join('');
    const inverse: Record<string, string> = { '█': ' ', ' ': '█', '▀': '▄', '▄': '▀' };
    expect([...a].map((ch) => inverse[ch]).join('')).toBe(b);
  });
});
