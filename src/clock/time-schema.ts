/**
 * Validators for instants that arrive as JSON (the wire, state files): a finite number, typed by
 * the clock it belongs to (time.ts) for the code that reads the parsed value.
 */
import { z } from 'zod';
import type { SharedMs, WallMs } from './time.js';

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** An instant on the party's shared clock, ms. */
export const sharedMsSchema = z.custom<SharedMs>(isFiniteNumber, 'a finite number');
/** A UTC wall-clock instant, ms since the epoch. */
export const wallMsSchema = z.custom<WallMs>(isFiniteNumber, 'a finite number');
