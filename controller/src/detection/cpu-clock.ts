/**
 * CPU time this process has used (user + system, every thread), in ms. Detection charges an
 * event min(wall time, this): both bound the detection worker's own CPU time, which Node 20
 * cannot read per thread, and unlike the wall clock this one stops while a loaded host keeps
 * the process off the cores. One getrusage syscall: read it per event, not per rule.
 */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
