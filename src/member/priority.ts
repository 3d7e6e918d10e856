/**
 * Scheduling priority for the processes that must keep time: mpv refilling the output, the member
 * reading mpv's position (a reading's timestamp is only as good as the process's wake-up), and
 * the leader, whose wake-up is inside every member's time exchange and which writes each command
 * to every member in one loop. On a busy machine at normal priority members missed their moments
 * (the sound fell 50–350 ms behind and readings were dropped by the round-trip gate), and a leader
 * of 1,000 members was preempted mid-loop by the members' own work: command fan-out p95 28–41 ms
 * at nice 0 against 22–27 ms at −10 (scale bench, 3 runs against 4, interleaved). Raising it needs
 * the privilege (root, CAP_SYS_NICE, or a systemd unit's LimitNICE/Nice=); without it nothing changes.
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The nice value asked for: PulseAudio itself runs at −11; below it, above everything else. */
export const SYNC_NICE = -10;

/** Sets the nice value of every thread of `pid` (on Linux a nice value is per thread); false if not permitted. */
export function raiseThreads(pid: number, nice: number): boolean {
  let tids: number[] = [pid];
  try {
    tids = readdirSync(`/proc/${pid}/task`).map(Number).filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    /* not Linux: the process itself */
  }
  let ok = true;
  for (const tid of tids) {
    try {
      setPriority(tid, nice);
    } catch {
      ok = false;
    }
  }
  return ok;
}
