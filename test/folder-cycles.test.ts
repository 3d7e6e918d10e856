/**
 * The folders of src/ depend on each other one way only: a folder cycle (a imports b, b imports
 * a, directly or round a longer loop; type-only imports count, they are a dependency of design
 * too) fails here with the imports that close it. And src/ never imports bench/ or test/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : []));
}

/** Every relative import / re-export of every file, as [from file, resolved target]. */
function imports(): [string, string][] {
  const out: [string, string][] = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\b(?:import|export)\b[^'";]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
      out.push([file, resolve(dirname(file), (m[1] ?? m[2])!)]);
    }
  }
  return out;
}

/** The top folder of src/ a file is in ("." for src/ itself), or null outside src/. */
function folderOf(file: string): string | null {
  const rel = relative(SRC, file);
  if (rel.startsWith('..')) return null;
  const parts = rel.split('/');
  return parts.length > 1 ? parts[0]! : '.';
}

/** A cycle in the folder graph as a list of folders (first = last), or null. */
function findCycle(edges: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 'open');
    path.push(n);
    for (const m of [...(edges.get(n) ?? [])].sort()) {
      if (state.get(m) === 'open') return [...path.slice(path.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    path.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of [...edges.keys()].sort()) {
    if (state.has(n)) continue;
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

describe('src/ folder dependencies', () => {
  const all = imports();

  it('finds a cycle when there is one (the check itself)', () => {
    const g = new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set(['a'])], ['d', new Set(['a'])]]);
    expect(findCycle(g)).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(new Map([['a', new Set(['b'])], ['b', new Set<string>()]]))).toBeNull();
  });

  it('have no cycle', () => {
    const edges = new Map<string, Set<string>>();
    const why = new Map<string, string[]>();
    for (const [file, target] of all) {
      const a = folderOf(file);
      const b = folderOf(target);
      if (a === null || b === null || a === b) continue;
      if (!edges.has(a)) edges.set(a, new Set());
      edges.get(a)!.add(b);
      const key = `${a} → ${b}`;
      if (!why.has(key)) why.set(key, []);
      why.get(key)!.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
    }
    const cycle = findCycle(edges);
    const detail = cycle ? cycle.slice(1).map((b, i) => `${cycle[i]} → ${b}: ${why.get(`${cycle[i]} → ${b}`)!.slice(0, 3).join(', ')}`).join('\n') : '';
    expect(cycle, `folder cycle ${cycle?.join(' → ')}\n${detail}`).toBeNull();
    expect(edges.size).toBeGreaterThan(5); // the scan saw the imports
  });

  it('never reach into bench/ or test/', () => {
    const outside = all.filter(([, target]) => folderOf(target) === null).map(([f, t]) => `${relative(SRC, f)} imports ${t}`);
    expect(outside).toEqual([]);
  });
});
