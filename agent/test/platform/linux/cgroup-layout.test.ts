import { describe, expect, it } from "vitest";
import { describeCgroup, describeProcCgroup, MAX_CGROUP_PATH } from "../../../src/platform/linux/cgroup-layout";

const ID = "0123456789abcdef".repeat(4);
const ID2 = "fedcba9876543210".repeat(4);
const UID = "6a3c0c0e-8a4b-4b8e-9c1d-2f3e4a5b6c7d";

/** The container part alone, for the table below. */
const container = (path: string) => {
  const f = describeCgroup(path);
  return { id: f.containerId, runtime: f.containerRuntime, pod: f.podUid, unit: f.systemdUnit };
};

describe("cgroup paths: the runtimes' layouts", () => {
  it.each([
    ["docker, systemd driver", `/system.slice/docker-${ID}.scope`, { id: ID, runtime: "docker", pod: "", unit: `docker-${ID}.scope` }],
    ["docker, cgroupfs driver", `/docker/${ID}`, { id: ID, runtime: "docker", pod: "", unit: "" }],
    [
      "containerd under kubepods",
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, "_")}.slice/cri-containerd-${ID}.scope`,
      { id: ID, runtime: "containerd", pod: UID, unit: `cri-containerd-${ID}.scope` },
    ],
    ["CRI-O, guaranteed pod", `/kubepods.slice/kubepods-pod${UID.replace(/-/g, "_")}.slice/crio-${ID}.scope`, { id: ID, runtime: "cri-o", pod: UID, unit: `crio-${ID}.scope` }],
    ["Kubernetes, cgroupfs driver", `/kubepods/besteffort/pod${UID}/${ID}`, { id: ID, runtime: "cri", pod: UID, unit: "" }],
    [
      "static pod (32-hex uid)",
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${"ab".repeat(16)}.slice/cri-containerd-${ID}.scope`,
      { id: ID, runtime: "containerd", pod: "ab".repeat(16), unit: `cri-containerd-${ID}.scope` },
    ],
    ["podman, systemd", `/machine.slice/libpod-${ID}.scope/container`, { id: ID, runtime: "podman", pod: "", unit: `libpod-${ID}.scope` }],
    ["podman rootless", `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`, { id: ID, runtime: "podman", pod: "", unit: `libpod-${ID}.scope` }],
    ["podman, cgroupfs", `/libpod_parent/libpod-${ID}`, { id: ID, runtime: "podman", pod: "", unit: "" }],
    ["docker in docker: the inner one", `/system.slice/docker-${ID}.scope/docker/${ID2}`, { id: ID2, runtime: "docker", pod: "", unit: `docker-${ID}.scope` }],
    ["a system service", "/system.slice/nginx.service", { id: "", runtime: "", pod: "", unit: "nginx.service" }],
    ["a template instance", "/system.slice/system-getty.slice/getty@tty1.service", { id: "", runtime: "", pod: "", unit: "getty@tty1.service" }],
    ["a login session", "/user.slice/user-1000.slice/session-4.scope", { id: "", runtime: "", pod: "", unit: "session-4.scope" }],
    ["a user's own service", "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", { id: "", runtime: "", pod: "", unit: "foo.service" }],
    ["the root", "/", { id: "", runtime: "", pod: "", unit: "" }],
  ])("%s", (_, path, want) => {
    expect(container(path)).toEqual(want);
    expect(describeCgroup(path).path).toBe(path);
  });

  it("the runtimes' monitors are not in the container they watch", () => {
    // conmon runs outside the container, in a scope of its own named after it.
    expect(container(`/machine.slice/libpod-conmon-${ID}.scope`).id).toBe("");
    expect(container(`/system.slice/crio-conmon-${ID}.scope`).id).toBe("");
  });
});

describe("cgroup paths are hostile text", () => {
  it.each([
    ["63 hex digits", `/system.slice/docker-${ID.slice(1)}.scope`],
    ["65 hex digits", `/system.slice/docker-${ID}0.scope`],
    ["upper-case hex", `/system.slice/docker-${ID.toUpperCase()}.scope`],
    ["a suffix after the unit type", `/system.slice/docker-${ID}.scope.evil`],
    ["a prefix before the runtime", `/system.slice/xdocker-${ID}.scope`],
    ["a bare id not under docker or a pod", `/system.slice/${ID}`],
    ["a bare id under a look-alike", `/dockerx/${ID}`],
    ["a bare id directly under the root", `/${ID}`],
    ["a relative path", `system.slice/docker-${ID}.scope`],
    ["a NUL inside", `/system.slice/docker-${ID}.scope\0/x`],
    ["a newline inside the name", `/system.slice/docker-${ID}\n.scope`],
  ])("no container from %s", (_, path) => {
    expect(describeCgroup(path).containerId).toBe("");
  });

  it("a path beyond PATH_MAX tells nothing, not even its path", () => {
    const long = `/${"a/".repeat(MAX_CGROUP_PATH / 2)}docker-${ID}.scope`;
    expect(describeCgroup(long)).toEqual({ path: "", containerId: "", containerRuntime: "", podUid: "", systemdUnit: "" });
  });

  it("a segment longer than a directory name can be is skipped, the others still read", () => {
    const path = `/system.slice/docker-${ID}.scope/${"x".repeat(300)}.service`;
    expect(describeCgroup(path)).toMatchObject({ containerId: ID, systemdUnit: `docker-${ID}.scope` });
  });

  it("pod uids only in their exact shape, and only under kubepods for the cgroupfs layout", () => {
    expect(describeCgroup(`/kubepods.slice/kubepods-pod${UID}.slice`).podUid).toBe(""); // dashes are underscores in a slice name
    expect(describeCgroup(`/kubepods.slice/kubepods-pod${UID.replace(/-/g, "_")}x.slice`).podUid).toBe("");
    expect(describeCgroup(`/system.slice/pod${UID}`).podUid).toBe("");
    expect(describeCgroup(`/kubepods/burstable/pod${UID}`).podUid).toBe(UID);
  });

  it("unit names outside systemd's alphabet are not units", () => {
    expect(describeCgroup("/system.slice/a b.service").systemdUnit).toBe("");
    expect(describeCgroup("/system.slice/$(id).service").systemdUnit).toBe("");
    expect(describeCgroup("/system.slice/.service").systemdUnit).toBe("");
  });

  it("a path built to make a backtracking matcher work hard reads like any other", () => {
    // Many near-misses: long runs of the unit alphabet and of hex that each almost match.
    const almost = [`docker-${"a".repeat(64)}.scop`, `${"a.".repeat(115)}servic`, `kubepods-pod${"0".repeat(31)}.slice`, "a".repeat(64) + "g"];
    const segments: string[] = [];
    while (segments.join("/").length < MAX_CGROUP_PATH - 300) segments.push(almost[segments.length % almost.length]!);
    const path = `/${segments.join("/")}`;
    expect(path.length).toBeLessThanOrEqual(MAX_CGROUP_PATH);
    expect(describeCgroup(path)).toEqual({ path, containerId: "", containerRuntime: "", podUid: "", systemdUnit: "" });
  });
});

describe("/proc/<pid>/cgroup", () => {
  it("cgroup v2: the 0:: line", () => {
    expect(describeProcCgroup(`0::/system.slice/docker-${ID}.scope\n`)).toMatchObject({ path: `/system.slice/docker-${ID}.scope`, containerId: ID, containerRuntime: "docker" });
  });

  it("hybrid host: the container from a v1 hierarchy, the path and unit from v2", () => {
    const text = [`12:memory:/docker/${ID}`, `11:pids:/docker/${ID}`, "1:name=systemd:/system.slice/docker.service", "0::/system.slice/docker.service", ""].join("\n");
    expect(describeProcCgroup(text)).toEqual({ path: "/system.slice/docker.service", containerId: ID, containerRuntime: "docker", podUid: "", systemdUnit: "docker.service" });
  });

  it("v1-only host: systemd's own hierarchy stands for the path", () => {
    expect(describeProcCgroup(`4:cpu,cpuacct:/kubepods/burstable/pod${UID}/${ID}\n1:name=systemd:/kubepods/burstable/pod${UID}/${ID}\n`)).toMatchObject({
      path: `/kubepods/burstable/pod${UID}/${ID}`,
      containerId: ID,
      containerRuntime: "cri",
      podUid: UID,
    });
  });

  it("a path holding ':' is kept whole", () => {
    expect(describeProcCgroup("0::/system.slice/a:b.service\n")).toMatchObject({ path: "/system.slice/a:b.service", systemdUnit: "a:b.service" });
  });

  it("not a container: the host itself, or text that is not the format", () => {
    expect(describeProcCgroup("0::/\n")).toMatchObject({ path: "/", containerId: "" });
    expect(describeProcCgroup("")).toMatchObject({ path: "", containerId: "" });
    expect(describeProcCgroup(`garbage without colons /docker/${ID}\n`)).toMatchObject({ path: "", containerId: "" });
  });

  it("only the first 64 lines are read", () => {
    const filler = Array.from({ length: 64 }, (_, i) => `${i + 1}:x${i}:/`).join("\n");
    expect(describeProcCgroup(`${filler}\n0::/system.slice/docker-${ID}.scope\n`).containerId).toBe("");
  });
});
