import { describe, expect, it } from "vitest";
import { labelledFields } from "../../src/cases/event-fields";
import { labelOf } from "../../console/src/lib/event-view";

describe("where a process runs, in the case timeline and the console", () => {
  const id = "0123456789abcdef".repeat(4);

  it("a containerised process shows its runtime and short id; a service its unit; a host process neither", () => {
    const container = labelledFields("process", { exe: "/bin/sh", containerId: id, containerRuntime: "docker", systemdUnit: `docker-${id}.scope` });
    expect(container).toContainEqual({ label: "Container", value: "docker 0123456789ab" });
    expect(container).toContainEqual({ label: "Systemd unit", value: `docker-${id}.scope` });
    const service = labelledFields("process", { exe: "/usr/sbin/nginx", systemdUnit: "nginx.service" });
    expect(service.map((f) => f.label)).not.toContain("Container");
    expect(service).toContainEqual({ label: "Systemd unit", value: "nginx.service" });
  });

  it("a file write, a connection and a DNS lookup show the container they came from", () => {
    for (const kind of ["file", "network", "dns"]) {
      expect(labelledFields(kind, { exe: "/usr/bin/curl", containerId: id, containerRuntime: "containerd" }), kind).toContainEqual({ label: "Container", value: "containerd 0123456789ab" });
      expect(labelledFields(kind, { exe: "/usr/bin/curl" }).map((f) => f.label)).not.toContain("Container");
    }
  });

  it("the console names the cgroup fields in words", () => {
    expect(["cgroupPath", "containerId", "containerRuntime", "podUid", "systemdUnit"].map((k) => labelOf(k))).toEqual(["Cgroup", "Container id", "Container runtime", "Pod UID", "Systemd unit"]);
  });
});
