/**
 * The leader's first frames, drawn in plain text while Ink and React are still loading.
 *
 * The panel (run-leader-ui.tsx) can draw only once Ink is loaded and the leader listens: on a
 * small machine that is a second or more after the command starts. Until then this draws the
 * header and the scan's progress with nothing but escape codes — no React, no layout — into the
 * same alternate screen, a line at a time from the top. The panel then takes the screen over
 * (it clears it when it opens). Keys typed meanwhile wait in the terminal for the panel.
 */
import { describeProgress, type ProgressView } from '../../playlist/progress.js';

const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H\x1b[2J';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const BOLD_CYAN = '\x1b[1;36m';
const DIM = '\x1b[2m';
const YELLOW = '\x1b[33m';
const RESET = '\x1b[0m';

/** What the plain frame shows; everything optional (the leader may not be listening yet). */
export interface FirstFrameView {
  /** host:port once the leader listens */
  listening?: string;
  scan?: ProgressView | null;
}

/** Cuts a line of plain text to `width` columns (a code point a column: the frame is ASCII but for paths). */
function cut(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : chars.slice(0, Math.max(0, width - 1)).join('') + '…';
}

/** The frame's lines, styled, each at most `width` columns of text. */
export function firstFrameLines(view: FirstFrameView, width: number): string[] {
  const left = 'syncplay leader';
  const where = view.listening ? `  ${view.listening}` : '  starting…';
  const right = 'loading the panel…';
  const pad = Math.max(1, width - left.length - where.length - right.length);
  const header = width >= left.length + where.length + right.length + 1 ? `${BOLD_CYAN}${left}${RESET}${DIM}${where}${RESET}${' '.repeat(pad)}${DIM}${right}${RESET}` : `${BOLD_CYAN}${cut(left + where, width)}${RESET}`;
  const lines = [header];
  const scan = view.scan;
  if (scan && scan.phase !== 'done') {
    const rule = `── Scan ${'─'.repeat(Math.max(0, width - 8))}`;
    lines.push('', `${DIM}${cut(rule, width)}${RESET}`, `${YELLOW}${cut(describeProgress(scan), width)}${RESET}`);
  }
  return lines;
}

/** The plain frame on a terminal: open() enters the alternate screen, draw() repaints it, handOver() leaves it to the panel. */
export class FirstFrame {
  private open = false;
  private readonly onExit = (): void => this.leave();

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  /** Enters the alternate screen and draws the frame. */
  start(view: FirstFrameView = {}): void {
    if (this.open) return;
    this.open = true;
    // Should the process end before the panel opens, give the terminal back.
    process.once('exit', this.onExit);
    this.out.write(ENTER_ALT_SCREEN + HIDE_CURSOR);
    this.draw(view);
  }

  /** Repaints from the top left: each line cleared to its end, everything below cleared. */
  draw(view: FirstFrameView): void {
    if (!this.open) return;
    const width = Math.max(20, this.out.columns ?? 80);
    this.out.write('\x1b[H' + firstFrameLines(view, width).map((l) => l + '\x1b[K').join('\r\n') + '\x1b[J');
  }

  /** The panel opens on this alternate screen now (it clears it and restores the terminal when it closes). */
  handOver(): void {
    if (!this.open) return;
    this.open = false;
    process.off('exit', this.onExit);
  }

  /** Back to the normal screen (the leader failed before its panel opened). */
  leave(): void {
    if (!this.open) return;
    this.open = false;
    process.off('exit', this.onExit);
    this.out.write(SHOW_CURSOR + LEAVE_ALT_SCREEN);
  }
}
