import { validateCommandParams } from "@vigil/proto";
import type { BlockManager } from "./block";
import { type CommandHandler, ParamError, failed, monitored, succeeded } from "./handler";
import { parsePrefix } from "./ip";

export interface BlockParams {
  ip: string;
  ttlSeconds?: number;
}

/** The canonical prefix nft is given (the contract has checked the text is an address or CIDR). */
function canonicalIp(ip: string): string {
  try {
    return parsePrefix(ip).text;
  } catch (e) {
    throw new ParamError("ip", (e as Error).message);
  }
}

export function blockIpHandler(manager: BlockManager): CommandHandler<BlockParams> {
  return {
    type: "block_ip",
    validate(params) {
      const p = validateCommandParams("block_ip", params);
      return { ip: canonicalIp(p.ip), ttlSeconds: p.ttlSeconds };
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
      return { ip: canonicalIp(validateCommandParams("unblock_ip", params).ip) };
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
