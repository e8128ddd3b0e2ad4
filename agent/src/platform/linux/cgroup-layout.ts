/**
 * What a cgroup path says about where a process runs: the container (runtime and id), the
 * Kubernetes pod, the systemd unit. Each container runtime names its cgroups its own way; the
 * patterns below are those layouts, matched strictly, one path segment at a time.
 *
 * The path is hostile text: any process allowed to create a cgroup (root, or a user with a
 * delegated subtree) chooses its names. So the input is bounded (length, segment length, segment
 * count), every pattern is anchored with bounded quantifiers and no nested repetition (linear
 * time), and ids are accepted only in their exact shape (64 lower-case hex digits, a UUID).
 */

/** PATH_MAX: no cgroup path the kernel reports is longer; a longer one is not read at all. */
export const MAX_CGROUP_PATH = 4096;
/** NAME_MAX: a directory name, so a cgroup segment, is at most this long. */
const MAX_SEGMENT = 255;

export interface CgroupFacts {
  /** The cgroup (v2) path from the hierarchy's root, e.g. /system.slice/docker-<id>.scope; "" when unknown. */
  path: string;
  containerId: string;
  /** docker, containerd, cri-o, podman, or cri (a Kubernetes container under the cgroupfs driver). */
  containerRuntime: string;
  podUid: string;
  systemdUnit: string;
}

export const NO_CGROUP: Readonly<CgroupFacts> = Object.freeze({ path: "", containerId: "", containerRuntime: "", podUid: "", systemdUnit: "" });

const HEX64 = "([0-9a-f]{64})";
/** A segment that is a container of its own, by its name alone. */
const SCOPES: ReadonlyArray<[RegExp, string]> = [
  [new RegExp(`^docker-${HEX64}\\.scope$`), "docker"],
  [new RegExp(`^cri-containerd-${HEX64}\\.scope$`), "containerd"],
  [new RegExp(`^crio-${HEX64}\\.scope$`), "cri-o"],
  // libpod-<id>.scope under systemd, libpod-<id> under libpod_parent (cgroupfs); libpod-conmon-<id> is the monitor, outside.
  [new RegExp(`^libpod-${HEX64}(?:\\.scope)?$`), "podman"],
];
const BARE_ID = new RegExp(`^${HEX64}$`);
/** UUID as Kubernetes writes it into a systemd slice name (dashes become underscores), or a static pod's 32-hex hash. */
const POD_SLICE = /^kubepods(?:-besteffort|-burstable)?-pod([0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}|[0-9a-f]{32})\.slice$/;
/** The cgroupfs driver's pod directory: pod<uid> under kubepods, kubepods/burstable or kubepods/besteffort. */
const POD_DIR = /^pod([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;
const POD_DIR_PARENTS = new Set(["kubepods", "burstable", "besteffort"]);
/** systemd's unit name alphabet (letters, digits, ":-_.\" and "@" of templates), then the unit type. */
const UNIT = /^[A-Za-z0-9:_.\\@-]{1,240}\.(?:service|scope)$/;

/** The container a segment names, given the segment above it (for layouts that name it by place). */
function containerOf(segment: string, parent: string | undefined): { id: string; runtime: string } | undefined {
  for (const [pattern, runtime] of SCOPES) {
    const m = pattern.exec(segment);
    if (m) return { id: m[1]!, runtime };
  }
  if (parent === undefined || !BARE_ID.test(segment)) return undefined;
  // cgroupfs drivers: /docker/<id>, and Kubernetes' /kubepods/<qos>/pod<uid>/<id>.
  if (parent === "docker") return { id: segment, runtime: "docker" };
  if (POD_DIR.test(parent)) return { id: segment, runtime: "cri" };
  return undefined;
}

function podOf(segment: string, parent: string | undefined): string | undefined {
  const slice = POD_SLICE.exec(segment);
  if (slice) return slice[1]!.replace(/_/g, "-");
  if (parent === undefined || !POD_DIR_PARENTS.has(parent)) return undefined;
  return POD_DIR.exec(segment)?.[1];
}

/**
 * Reads a cgroup path. The innermost match wins for the container and the unit (a container
 * nested in another is the one the process runs in; a user service under user@1000.service is
 * that service). A path that is not absolute, too long, or holds a NUL tells nothing.
 */
export function describeCgroup(path: string): CgroupFacts {
  if (path.length === 0 || path.length > MAX_CGROUP_PATH || path.charCodeAt(0) !== 47 || path.includes("\0")) return { ...NO_CGROUP };
  const segments = path.split("/");
  const facts: CgroupFacts = { ...NO_CGROUP, path };
  for (let i = segments.length - 1; i > 0; i--) {
    const segment = segments[i]!;
    if (segment.length === 0 || segment.length > MAX_SEGMENT) continue;
    const parent = i > 1 ? segments[i - 1] : undefined;
    if (!facts.containerId) {
      const c = containerOf(segment, parent);
      if (c) {
        facts.containerId = c.id;
        facts.containerRuntime = c.runtime;
      }
    }
    if (!facts.podUid) facts.podUid = podOf(segment, parent) ?? "";
    if (!facts.systemdUnit && UNIT.test(segment)) facts.systemdUnit = segment;
  }
  return facts;
}

/** Lines of /proc/<pid>/cgroup read at most (a v1 host has one per hierarchy, about a dozen). */
const MAX_PROC_CGROUP_LINES = 64;

/**
 * /proc/<pid>/cgroup: the v2 path (the "0::" line) is the process's cgroup. On a host that still
 * mounts v1 hierarchies, a container runtime using them puts its names there and the v2 path is
 * just "/": then the first v1 line that names a container supplies the container and pod, while
 * the path and unit stay the v2 ones (or systemd's own hierarchy's, on a v1-only host).
 */
export function describeProcCgroup(text: string): CgroupFacts {
  let v2: string | undefined;
  let systemd: string | undefined;
  const v1: string[] = [];
  let start = 0;
  for (let n = 0; n < MAX_PROC_CGROUP_LINES && start < text.length; n++) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    // hierarchy-id:controllers:path; the path itself may hold ':'.
    const a = line.indexOf(":");
    const b = a < 0 ? -1 : line.indexOf(":", a + 1);
    if (b < 0) continue;
    const path = line.slice(b + 1);
    if (line.startsWith("0::")) v2 = path;
    else if (line.slice(a + 1, b) === "name=systemd") systemd = path;
    else v1.push(path);
  }
  const own = v2 ?? systemd;
  const facts = own === undefined ? { ...NO_CGROUP } : describeCgroup(own);
  if (facts.containerId) return facts;
  for (const path of systemd !== undefined && v2 !== undefined ? [systemd, ...v1] : v1) {
    const other = describeCgroup(path);
    if (other.containerId) return { ...facts, containerId: other.containerId, containerRuntime: other.containerRuntime, podUid: facts.podUid || other.podUid };
  }
  return facts;
}
