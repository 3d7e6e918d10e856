/**
 * Pure helpers behind the leader's terminal UI: how numbers are written, and what colour a
 * member's row gets. Nothing here touches the terminal.
 */
import { escapeText } from '../../log/escape.js';
import type { MemberView } from '../leader.js';

/** A member's health as the UI colours it. */
export type Health = 'sync' | 'correcting' | 'problem' | 'idle';

export const HEALTH_COLOR: Record<Health, string> = {
  sync: 'green',
  correcting: 'yellow',
  problem: 'red',
  idle: 'gray',
};

/** |sync error| under this is "in sync" (green). */
export const IN_SYNC_MS = 1;
/** A speed further than this from 1 means the member is still correcting (yellow). */
export const SPEED_TOLERANCE = 100e-6;

const BAD_FILES = new Set(['missing', 'different', 'refused']);

export function fileIsBad(status: string): boolean {
  return BAD_FILES.has(status);
}

export function speedIsOff(speed: number | null): boolean {
  return speed !== null && Math.abs(speed - 1) > SPEED_TOLERANCE;
}

/**
 * Red: lost, a missing / different / refused file, or silent (mpv down too).
 * Yellow: loading or armed, or playing with |error| ≥ 1 ms or a speed off 1 by > 100 ppm.
 * Green: playing with |error| < 1 ms at (about) normal speed. Grey: idle or paused.
 */
export function memberHealth(m: MemberView): Health {
  if (!m.connected) return 'problem';
  if (fileIsBad(m.fileStatus)) return 'problem';
  if (m.playerState === 'silent' || m.playerState === 'down') return 'problem';
  if (m.playerState === 'loading' || m.playerState === 'armed') return 'correcting';
  if (m.playerState === 'playing') {
    if (m.errorMs === null || Math.abs(m.errorMs) >= IN_SYNC_MS || speedIsOff(m.speed)) return 'correcting';
    return 'sync';
  }
  return 'idle';
}

/** m:ss (or h:mm:ss) of a position in seconds. */
export function clock(sec: number): string {
  const s = Math.max(0, Math.floor(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * Milliseconds in at most about 8 characters: 3 decimals while small, fewer as it grows,
 * seconds / hours for the large offsets between unrelated monotonic clocks.
 */
export function ms(v: number | null | undefined, signed = false): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const sign = signed && v >= 0 ? '+' : '';
  const a = Math.abs(v);
  if (a < 10) return sign + v.toFixed(3);
  if (a < 100) return sign + v.toFixed(2);
  if (a < 1000) return sign + v.toFixed(1);
  if (a < 100_000) return sign + v.toFixed(0);
  if (a < 3_600_000 * 10) return `${sign}${(v / 1000).toFixed(0)}s`;
  return `${sign}${(v / 3_600_000).toFixed(1)}h`;
}

export function speedText(speed: number | null): string {
  return speed === null ? '—' : speed.toFixed(5);
}

/** The host part of "host:port", without the IPv4-mapped IPv6 prefix. */
export function hostOf(address: string): string {
  const i = address.lastIndexOf(':');
  const host = i > 0 ? address.slice(0, i) : address;
  return host.replace(/^::ffff:/, '');
}

/** A bar of `width` cells: ━ for the part played, ─ for the rest. */
export function progressBar(fraction: number, width: number): { done: string; rest: string } {
  const w = Math.max(0, width);
  const f = Number.isFinite(fraction) ? Math.max(0, Math.min(1, fraction)) : 0;
  const n = Math.round(f * w);
  return { done: '━'.repeat(n), rest: '─'.repeat(w - n) };
}

/** Cuts `s` to `width` characters, with … when cut; pads to `width` when `pad`. */
export function fit(s: string, width: number, pad = true, alignRight = false): string {
  if (width <= 0) return '';
  const chars = [...escapeText(s)];
  let out = chars.length > width ? chars.slice(0, Math.max(0, width - 1)).join('') + '…' : chars.join('');
  if (pad) {
    const len = [...out].length;
    out = alignRight ? ' '.repeat(width - len) + out : out + ' '.repeat(width - len);
  }
  return out;
}

/** A scheduled instant (ISO 8601) as local wall-clock time: "20:00", or "Sat 20:00" when not today. */
export function wallClock(iso: string, now: Date = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  if (d.toDateString() === now.toDateString()) return hm;
  const day = d.toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short' });
  return `${day} ${hm}`;
}

/** The rows [start, end) of a window of at most `size` rows around `focus` in a list of `total`. */
export function windowAround(focus: number, total: number, size: number): { start: number; end: number } {
  if (total <= size) return { start: 0, end: total };
  const start = Math.max(0, Math.min(total - size, focus - Math.floor(size / 2)));
  return { start, end: start + size };
}
