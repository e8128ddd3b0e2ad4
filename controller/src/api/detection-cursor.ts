import { BadRequestException } from "@nestjs/common";

/** Opaque cursor over (lastSeen, id) for alert and case lists, newest first. */
export function encodeSeenCursor(x: { lastSeen: number; id: string }): string {
  return Buffer.from(`${x.lastSeen}:${x.id}`).toString("base64url");
}

/** Cursor for score-ordered pages: (score, lastSeen, id). */
export function encodeScoreCursor(x: { score: number; lastSeen: number; id: string }): string {
  return Buffer.from(`s${x.score}:${x.lastSeen}:${x.id}`).toString("base64url");
}

export function decodeScoreCursor(s: string | undefined): { score: number; lastSeen: number; id: string } | undefined {
  if (s === undefined) return undefined;
  const m = /^s(\d+):(\d+):([0-9a-f-]{36})$/.exec(Buffer.from(s, "base64url").toString("utf8"));
  if (!m) throw new BadRequestException(`query parameter "cursor" is not a cursor returned by this API for sort=score`);
  return { score: Number(m[1]), lastSeen: Number(m[2]), id: m[3]! };
}

export function decodeSeenCursor(s: string | undefined): { lastSeen: number; id: string } | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+):([0-9a-f-]{36})$/.exec(Buffer.from(s, "base64url").toString("utf8"));
  if (!m) throw new BadRequestException(`query parameter "cursor" is not a cursor returned by this API`);
  return { lastSeen: Number(m[1]), id: m[2]! };
}
