import { statfs } from 'node:fs/promises';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { requireScope, type Principal } from '../../../lib/principal.js';

/**
 * The host's figures as the process that serves telemetry sees them: CPU use measured over the
 * interval since the previous reading (at least 100 ms, sampled now when there is none), load
 * averages, memory, and the disk holding the working directory.
 */
export interface SystemMetrics {
  cpu: { usagePercent: number; loadAverage: number[]; cores: number };
  memory: { total: number; used: number; free: number; usagePercent: number };
  disk: { total: number; used: number; free: number; usagePercent: number } | null;
}

interface CpuSample {
  at: number;
  idle: number;
  total: number;
}

function sampleCpu(): CpuSample {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { at: Date.now(), idle, total };
}

let previous: CpuSample | null = null;
const MIN_WINDOW_MS = 100;

async function cpuUsagePercent(): Promise<number> {
  if (!previous || Date.now() - previous.at > 60_000) {
    previous = sampleCpu();
    await new Promise((resolve) => setTimeout(resolve, MIN_WINDOW_MS));
  } else if (Date.now() - previous.at < MIN_WINDOW_MS) {
    await new Promise((resolve) => setTimeout(resolve, MIN_WINDOW_MS - (Date.now() - previous!.at)));
  }
  const current = sampleCpu();
  const busy = current.total - previous!.total - (current.idle - previous!.idle);
  const span = current.total - previous!.total;
  previous = current;
  return span > 0 ? round((busy / span) * 100) : 0;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

export async function readSystemMetrics({ principal }: { principal: Principal }): Promise<SystemMetrics> {
  requireScope(principal, 'read:metrics');
  const total = totalmem();
  const free = freemem();
  let disk: SystemMetrics['disk'] = null;
  try {
    const fs = await statfs(process.cwd());
    const diskTotal = fs.blocks * fs.bsize;
    const diskFree = fs.bavail * fs.bsize;
    disk = {
      total: diskTotal,
      used: diskTotal - diskFree,
      free: diskFree,
      usagePercent: diskTotal > 0 ? round(((diskTotal - diskFree) / diskTotal) * 100) : 0,
    };
  } catch {
    disk = null;
  }
  return {
    cpu: { usagePercent: await cpuUsagePercent(), loadAverage: loadavg().map(round), cores: cpus().length },
    memory: { total, used: total - free, free, usagePercent: round(((total - free) / total) * 100) },
    disk,
  };
}
