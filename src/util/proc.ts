import { readdirSync, readFileSync } from 'node:fs';

/**
 * Processes of a process group that are still running (zombies excluded: they are dead and only wait
 * to be reaped; in containers whose PID 1 does not reap, orphans stay zombies forever, and signal 0
 * to the group would keep reporting them as alive). Linux reads /proc; elsewhere, signal 0.
 */
export function liveGroupMembers(pgid: number): number[] {
  try {
    process.kill(-pgid, 0);
  } catch {
    return [];
  }
  if (process.platform !== 'linux') return [pgid];
  const live: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const rest = procStat(name);
    if (rest && Number(rest[2]) === pgid && rest[0] !== 'Z' && rest[0] !== 'X') live.push(Number(name));
  }
  return live;
}

/** True when the pid runs and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  const state = procStat(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** Live processes (not this one) whose command line contains `word` (Linux; tests and the bench use it). */
export function processesWith(word: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!/^\d+$/.test(name) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(word) && isRunning(pid)) found.push(pid);
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

/** Fields of /proc/<pid>/stat after "pid (comm) ": state, ppid, pgrp, … (comm may hold spaces and parentheses). */
function procStat(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
