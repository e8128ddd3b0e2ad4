import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Direction, NetworkAction, type Event } from "@vigil/proto";
import { buildIocIndex } from "../../src/ioc/ioc-index";
import { matchEvent } from "../../src/ioc/match";
import { DetectionEngine, parseEventLine, toSigmaEvent } from "../../src/sigma";
import { compileOk } from "./helpers";

const ctx = { agentId: "a1", hostname: "web-1" };

function dnsEvent(over: Partial<NonNullable<Extract<Event["body"], { $case: "dns" }>>["dns"]> = {}): Event {
  return {
    seq: 5,
    eventTimeMs: 1_700_000_000_000,
    body: {
      $case: "dns",
      dns: {
        queryName: "abc.tunnel.eu.ngrok.com",
        queryType: "A",
        answers: ["3.125.102.39"],
        answered: true,
        rcode: 0,
        server: "10.0.0.2",
        pid: 4242,
        exe: "/usr/bin/curl",
        processName: "curl",
        user: "www-data",
        cgroupPath: "",
        containerId: "",
        containerRuntime: "",
        podUid: "",
        systemdUnit: "",
        ...over,
      },
    },
  };
}

function connection(remoteHostname: string): Event {
  return {
    seq: 6,
    eventTimeMs: 1_700_000_000_100,
    body: {
      $case: "network",
      network: {
        action: NetworkAction.NETWORK_ACTION_OPEN,
        protocol: "tcp",
        localAddress: "",
        localPort: 0,
        remoteAddress: "3.125.102.39",
        remotePort: 443,
        state: "SYN_SENT",
        direction: Direction.DIRECTION_OUTBOUND,
        pid: 4242,
        processName: "curl",
        exe: "/usr/bin/curl",
        user: "www-data",
        bytesSent: 0,
        bytesReceived: 0,
        remoteHostname,
        cgroupPath: "",
        containerId: "",
        containerRuntime: "",
        podUid: "",
        systemdUnit: "",
      },
    },
  };
}

describe("DNS lookups and connection hostnames as Sigma sees them", () => {
  it("a DnsEvent is a dns_query with Sysmon's field names", () => {
    const ev = toSigmaEvent(dnsEvent(), ctx)!;
    expect(ev.logsource).toEqual({ product: "linux", category: "dns_query" });
    expect(ev.fields).toMatchObject({
      QueryName: "abc.tunnel.eu.ngrok.com",
      QueryType: "A",
      QueryResults: ["3.125.102.39"],
      QueryStatus: 0,
      Answered: "true",
      DnsServer: "10.0.0.2",
      Image: "/usr/bin/curl",
      ProcessName: "curl",
      ProcessId: 4242,
      User: "www-data",
    });
    const unanswered = toSigmaEvent(dnsEvent({ answered: false, answers: [] }), ctx)!;
    expect(unanswered.fields.QueryStatus).toBeUndefined();
    expect(unanswered.fields.QueryResults).toBeUndefined();
    expect(unanswered.fields.Answered).toBe("false");
  });

  it("a dns_query rule fires on the lookup, and the bundled SigmaHQ ngrok rule on the connection's DestinationHostname", () => {
    const dnsRule = `title: Ngrok lookup\nid: d1\nlogsource:\n    category: dns_query\ndetection:\n    sel:\n        QueryName|endswith: '.ngrok.com'\n    condition: sel\nlevel: high\n`;
    const ngrok = readFileSync(join(__dirname, "../../rules/sigmahq-linux/network_connection/net_connection_lnx_ngrok_tunnel.yml"), "utf8");
    const engine = new DetectionEngine(compileOk(dnsRule, ngrok));
    expect(engine.process(toSigmaEvent(dnsEvent(), ctx)!).map((m) => m.rule.id)).toEqual(["d1"]);
    const hits = engine.process(toSigmaEvent(connection("abc.tunnel.eu.ngrok.com"), ctx)!);
    expect(hits.map((m) => m.rule.title)).toEqual(["Communication To Ngrok Tunneling Service - Linux"]);
    expect(toSigmaEvent(connection("abc.tunnel.eu.ngrok.com"), ctx)!.fields.DestinationHostname).toBe("abc.tunnel.eu.ngrok.com");
    // Without a name (no DNS sensor, a literal address): the field is absent and the rule cannot fire.
    expect(engine.process(toSigmaEvent(connection(""), ctx)!)).toEqual([]);
    expect(toSigmaEvent(connection(""), ctx)!.fields).not.toHaveProperty("DestinationHostname");
  });

  it("domain and IP indicators match a lookup's name, its answers and a connection's hostname", () => {
    const index = buildIocIndex([
      { kind: "domain", value: "ngrok.com", confidence: 80, source: "feed" },
      { kind: "ip", value: "3.125.102.39", confidence: 60, source: "feed" },
    ]);
    const lookup = matchEvent(index, dnsEvent({ answers: ["cname.ngrok.com", "3.125.102.39"] }));
    expect(lookup.map((h) => [h.field, h.observed])).toEqual([
      ["dns.queryName", "abc.tunnel.eu.ngrok.com"],
      ["dns.answers", "cname.ngrok.com"],
      ["dns.answers", "3.125.102.39"],
    ]);
    const conn = matchEvent(index, connection("abc.tunnel.eu.ngrok.com"));
    expect(conn.map((h) => h.field)).toEqual(["network.remoteAddress", "network.remoteHostname"]);
  });

  it("`rules test` reads a dns event as the API returns it", () => {
    const ev = parseEventLine({ id: "9", agentId: "a1", seq: 9, type: "dns", action: "a", eventTime: "2026-01-01T00:00:00Z", dns: { queryName: "x.example", queryType: "TXT", answered: true } })!;
    expect(ev.logsource).toEqual({ product: "linux", category: "dns_query" });
    expect(ev.fields).toMatchObject({ QueryName: "x.example", QueryType: "TXT", QueryStatus: 0 });
  });
});
