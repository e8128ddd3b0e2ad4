import { COMMAND_LIMITS } from "@vigil/proto";
import type { BlockManager } from "./block";
import { MAX_BLOCK_SECONDS } from "./block";
import { type CommandHandler, ParamError, asObject, failed, monitored, optInt, optString, rejectUnknownKeys, reqString, succeeded } from "./handler";
import { type IpPrefix, parsePrefix } from "./ip";

export interface BlockParams {
  ip: string;
  ttlSeconds?: number;
}

function prefixParam(o: Record<string, unknown>): IpPrefix {
  const ip = reqString(o, "ip", 64);
  try {
    return parsePrefix(ip);
  } catch (e) {
    throw new ParamError("ip", (e as Error).message);
  }
}

export function blockIpHandler(manager: BlockManager): CommandHandler<BlockParams> {
  return {
    type: "block_ip",
    validate(params) {
      const o = asObject(params);
      rejectUnknownKeys(o, ["ip", "ttlSeconds", "reason"]);
      optString(o, "reason", COMMAND_LIMITS.reasonMaxChars);
      return { ip: prefixParam(o).text, ttlSeconds: optInt(o, "ttlSeconds", 1, MAX_BLOCK_SECONDS) };
    },
    async run(p, mode, ctx) {
      const why = manager.refusal(parsePrefix(p.ip));
      if (why) return failed(`refusing to block: ${why}`);
      if (mode === "monitor") return monitored([`drop traffic to and from ${p.ip}${p.ttlSeconds ? ` for ${p.ttlSeconds}s` : ""}`]);
      try {
        const e = await manager.block(p.ip, { ttlSeconds: p.ttlSeconds, commandId: ctx.commandId });
        return succeeded({ blocked: e.prefix, expiresAtMs: e.expiresAtMs });
      } catch (e) {
        return failed((e as Error).message);
      }
    },
  };
}

export function unblockIpHandler(manager: BlockManager): CommandHandler<{ ip: string }> {
  return {
    type: "unblock_ip",
    validate(params) {
      const o = asObject(params);
      rejectUnknownKeys(o, ["ip", "reason"]);
      optString(o, "reason", COMMAND_LIMITS.reasonMaxChars);
      return { ip: prefixParam(o).text };
    },
    async run(p, mode) {
      if (mode === "monitor") return monitored([`remove block of ${p.ip}`]);
      try {
        const r = await manager.unblock(p.ip);
        return succeeded({ unblocked: p.ip, wasBlocked: r.wasBlocked });
      } catch (e) {
        return failed((e as Error).message);
      }
    },
  };
}
