import { execFile } from "node:child_process";

export interface SocketBytes {
  sent: number;
  received: number;
}

/**
 * Per-socket byte counters come only from the kernel's sock_diag netlink
 * interface, which Node cannot open without a native addon; `ss` (iproute2)
 * reads it for us. Lines look like:
 *   0 0 10.0.0.5:40000 93.184.216.34:443 ino:12345 sk:1 ...
 *   \t ts sack cubic ... bytes_sent:2042 bytes_acked:2043 bytes_received:3492 ...
 */
export function parseSsOutput(text: string): Map<number, SocketBytes> {
  const out = new Map<number, SocketBytes>();
  let inode = 0;
  for (const line of text.split("\n")) {
    if (line.length === 0) continue;
    if (line[0] !== "\t" && line[0] !== " ") {
      const m = /\bino:(\d+)/.exec(line);
      inode = m ? Number(m[1]) : 0;
      continue;
    }
    if (inode === 0) continue;
    // bytes_acked is what the peer confirmed: the honest "sent" figure; bytes_sent includes retransmits.
    const acked = /\bbytes_acked:(\d+)/.exec(line);
    const sent = acked ?? /\bbytes_sent:(\d+)/.exec(line);
    const recv = /\bbytes_received:(\d+)/.exec(line);
    out.set(inode, { sent: sent ? Number(sent[1]) : 0, received: recv ? Number(recv[1]) : 0 });
    inode = 0;
  }
  return out;
}

/** Runs `ss` for established TCP sockets that leave the host; resolves empty when ss is missing or fails. */
export function readSocketBytes(ss = "ss", opts: { loopback?: boolean; timeoutMs?: number } = {}): Promise<{ bytes: Map<number, SocketBytes>; error?: string }> {
  const filter = opts.loopback ? [] : ["( not dst 127.0.0.0/8 and not dst [::1] )"];
  return new Promise((resolve) => {
    execFile(ss, ["-tinHe", "state", "established", ...filter], { timeout: opts.timeoutMs ?? 2000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) =>
      resolve(err ? { bytes: new Map(), error: `${ss}: ${err.message.split("\n")[0]}` } : { bytes: parseSsOutput(stdout) }),
    );
  });
}
