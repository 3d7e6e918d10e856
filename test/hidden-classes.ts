/**
 * Counts how often V8's hidden class (map) changes along a run of objects, with the engine's own
 * `%HaveSameMap` (natives syntax enabled for the code compiled here). Objects built every second
 * for hours must share one: on Node 20 an object spread followed by a new key made a new class
 * per object, each promoted and kept until a full collection (src/member/member-status.ts).
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--allow-natives-syntax');
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

export function hiddenClassChanges(objects: readonly object[]): number {
  let changes = 0;
  for (let i = 1; i < objects.length; i++) if (!haveSameMap(objects[i - 1]!, objects[i]!)) changes++;
  return changes;
}
