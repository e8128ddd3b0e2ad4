import { AuthAction, Direction, Event, NetworkAction, ProcessAction } from "@vigil/proto";
import type { EventInit, RawAgent } from "../support/raw-agent";
import { startTestController, type TestController } from "../support/controller";
import { waitFor } from "../support/wait";
import type { DetectionOptions } from "../../src/detection/options";

export const BRUTE_FORCE = "895fed99-f646-4f2c-90d6-cdcade3a6d70";
export const BRUTE_THEN_SUCCESS = "628732a3-3dcd-4159-985a-a4d289ce5365";
export const IOC_HIT = "9c64d431-8b6e-4a8b-b9ad-830ebdd15e24";
export const EXEC_FROM_TMP = "545f0eb8-bc7b-4ddb-9a82-d6cbcc32a051";

/**
 * A controller whose reorder tolerance is wide (15 min), so tests can deliver events out of order;
 * correlations are then released by a later "clock" event, as a live agent's next event would.
 */
export function startDetectionController(opts: { databaseUrl?: string; detection?: Partial<DetectionOptions> } = {}): Promise<TestController> {
  return startTestController({ databaseUrl: opts.databaseUrl, detection: { reorderToleranceMs: 15 * 60_000, idleTickMs: 200, ...opts.detection } });
}

export type Make = (seq: number) => EventInit;

export function sshFailure(timeMs: number, ip: string, user = "admin"): Make {
  return () => ({
    eventTimeMs: timeMs,
    body: {
      $case: "auth",
      auth: {
        action: AuthAction.AUTH_ACTION_LOGIN_FAILURE,
        user,
        targetUser: "",
        sourceIp: ip,
        sourcePort: 40000,
        method: "password",
        pid: 4242,
        service: "sshd",
        command: "",
        tty: "",
        hostname: "web1",
        raw: `Failed password for ${user} from ${ip}`,
      },
    },
  });
}

export function sshSuccess(timeMs: number, ip: string, user: string): Make {
  return () => ({
    eventTimeMs: timeMs,
    body: {
      $case: "auth",
      auth: {
        action: AuthAction.AUTH_ACTION_LOGIN_SUCCESS,
        user,
        targetUser: "",
        sourceIp: ip,
        sourcePort: 40001,
        method: "password",
        pid: 4243,
        service: "sshd",
        command: "",
        tty: "",
        hostname: "web1",
        raw: `Accepted password for ${user} from ${ip}`,
      },
    },
  });
}

export function connection(timeMs: number, remote: string): Make {
  return () => ({
    eventTimeMs: timeMs,
    body: {
      $case: "network",
      network: {
        action: NetworkAction.NETWORK_ACTION_OPEN,
        direction: Direction.DIRECTION_OUTBOUND,
        protocol: "tcp",
        localAddress: "10.0.0.5",
        localPort: 51000,
        remoteAddress: remote,
        remotePort: 443,
        pid: 777,
        exe: "/usr/bin/curl",
        processName: "curl",
        user: "www",
        state: "ESTABLISHED",
        bytesSent: 100,
        bytesReceived: 200,
      },
    },
  });
}

export function exec(timeMs: number, exe: string, user = "www"): Make {
  return () => ({
    eventTimeMs: timeMs,
    body: { $case: "process", process: { action: ProcessAction.PROCESS_ACTION_START, pid: 999, ppid: 1, exe, commandLine: `${exe} --run`, user, uid: 33, name: exe.split("/").pop() } },
  });
}

/** An agent event at `timeMs`: moves that agent's event clock on, releasing held correlations. */
export function clock(timeMs: number): Make {
  return () => ({ eventTimeMs: timeMs, body: { $case: "agent", agent: { kind: "heartbeat", message: "tick", attributes: {} } } });
}

/** Sends one event per `make`, each its own seq, in one batch; waits for the ack. */
export async function send(agent: RawAgent, firstSeq: number, makes: Make[]): Promise<number> {
  const events = makes.map((m, i) => Event.fromPartial({ seq: firstSeq + i, eventTimeMs: Date.now(), ...m(firstSeq + i) }));
  agent.send({ msg: { $case: "events", events: { firstSeq, events } } });
  const last = firstSeq + makes.length - 1;
  await waitFor(`ack of seq ${last}`, () => agent.lastAck() >= last);
  return last + 1;
}

export async function connect(ctl: TestController, agentId: string, tags: string[] = []): Promise<RawAgent> {
  const { RawAgent } = await import("../support/raw-agent");
  const a = new RawAgent(ctl.grpcPort);
  a.hello(agentId, { tags });
  await waitFor(`${agentId} welcome`, () => a.received.some((m) => m.msg?.$case === "welcome"));
  return a;
}

/** Detection caught up: everything stored so far went through the pipeline and its alerts are written. */
export async function settled(ctl: TestController): Promise<void> {
  await ctl.detection.pipeline.idle();
}

/** Six hours ago, on a minute: recent enough that entity risk has not decayed away. */
export const T0 = Math.floor((Date.now() - 6 * 3_600_000) / 60_000) * 60_000;
export const MIN = 60_000;
