import type { TestController } from "../support/controller";
import { request } from "../support/http";
import { waitFor } from "../support/wait";
import { clock, exec, send, settled, sshFailure, sshSuccess } from "../detection/support";
import { FakeHost } from "./fake-host";

const MIN = 60_000;

const EVIDENCE_PB = `
id: evidence-on-credential-attacks
name: Collect evidence on credential attacks
when:
  minScore: 50
  tags: [attack.credential_access]
actions:
  - type: collect_evidence
    params: { processes: true, connections: true }
approval: auto
`;

const BLOCK_PB = `
id: block-brute-force-source
name: Block the source of a successful brute force
when:
  minScore: 70
  tags: [attack.credential_access]
actions:
  - type: block_ip
    params: { ttlSeconds: 3600 }
approval: analyst
`;

export interface Seeded {
  web: FakeHost;
  db: FakeHost;
  /** A lab host whose agent runs in monitor mode. */
  lab: FakeHost;
  caseId: string;
  topAlertId: string;
}

/**
 * A small fleet with a realistic incident, through the real pipeline: web-1 streams an SSH brute
 * force from 203.0.113.50 that ends in a successful login (two alerts, one case), db-1 runs a
 * binary from /tmp, build-7 reports a stopped sensor and drops and then goes offline.
 * Playbooks (run by the pipeline) collect evidence automatically and propose an IP block for an
 * analyst to approve.
 */
export async function seed(ctl: TestController): Promise<Seeded> {
  for (const yaml of [EVIDENCE_PB, BLOCK_PB]) {
    const r = await request(ctl, "POST", "/api/v1/playbooks", { yaml });
    if (r.status !== 201) throw new Error(`playbook: ${JSON.stringify(r.body)}`);
  }
  const now = Date.now();
  const web = await FakeHost.connect(ctl.grpcPort, { agentId: "web-1", hostname: "web-1.prod", ip: "10.0.1.15", tags: ["web", "prod"] });
  // Process sources as the agent reports them: eBPF (web-1), its fallbacks auditd (db-1) and /proc polling (lab-3).
  const sensorsWith = (detail: string) => [{ name: "process", running: true, detail, events: 4_012, errors: 0 }];
  const db = await FakeHost.connect(ctl.grpcPort, {
    agentId: "db-1",
    hostname: "db-1.prod",
    ip: "10.0.2.7",
    tags: ["critical", "prod"],
    status: {
      sensors: sensorsWith(
        "source: audit (eBPF unavailable: kernel without BTF); misses: process exits (no exit code or duration), connections are not tied to short-lived processes, file changes name no process; dispatcher socket /var/run/audispd_events",
      ),
    },
  });
  const lab = await FakeHost.connect(ctl.grpcPort, {
    agentId: "lab-3",
    hostname: "lab-3.test",
    ip: "10.0.5.3",
    tags: ["lab"],
    status: {
      enforcement: "monitor",
      sensors: sensorsWith(
        "source: /proc polling (kernel_sensor: proc); misses: processes shorter than the 250 ms scan are missed, connections are not tied to short-lived processes, file changes name no process",
      ),
    },
  });
  const build = await FakeHost.connect(ctl.grpcPort, {
    agentId: "build-7",
    hostname: "build-7.ci",
    ip: "10.0.9.40",
    version: "0.0.9",
    status: {
      sensors: [
        { name: "process", running: true, detail: "netlink proc connector", events: 90_112, errors: 0 },
        { name: "file", running: false, detail: "fanotify: operation not permitted", events: 0, errors: 3 },
        { name: "network", running: true, detail: "/proc/net polling", events: 2_301, errors: 0 },
      ],
      dropped: { process: 1_204, network: 37 },
      spoolBytes: 73_400_320,
      spoolRecords: 181_223,
      spoolDiscardedBytes: 0,
    },
  });
  build.close();

  const ip = "203.0.113.50";
  const fails = Array.from({ length: 7 }, (_, i) => sshFailure(now - 42 * MIN + i * 25_000, ip, i < 4 ? "admin" : "alice"));
  web.seq = await send(web.agent, web.seq, [...fails, sshSuccess(now - 36 * MIN, ip, "alice"), clock(now - 1000)]);
  db.seq = await send(db.agent, db.seq, [exec(now - 3 * 60 * MIN, "/tmp/.cache/kworkerd", "postgres"), clock(now - 1000)]);
  await settled(ctl);

  const alerts = await waitFor("the pipeline's alerts", async () => {
    const r = await request(ctl, "GET", "/api/v1/alerts?agent=web-1");
    return r.body.items?.length >= 2 ? (r.body.items as Array<{ id: string; score: number; caseId: string }>) : undefined;
  });
  const top = [...alerts].sort((a, b) => b.score - a.score)[0];

  // Detection hands each new alert to the playbooks: evidence is collected on its own, the block waits for an analyst.
  await waitFor("evidence collected", async () => {
    const r = await request(ctl, "GET", `/api/v1/commands?case=${top.caseId}&state=succeeded`);
    return r.body.items?.some((c: { type: string }) => c.type === "collect_evidence");
  });
  await waitFor("the block waiting for approval", async () => {
    const r = await request(ctl, "GET", `/api/v1/playbook-actions?case=${top.caseId}&state=pending`);
    return r.body.items?.some((a: { type: string }) => a.type === "block_ip");
  });
  return { web, db, lab, caseId: top.caseId, topAlertId: top.id };
}
