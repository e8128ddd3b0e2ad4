import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { EnrollmentServiceClient, type Credentials } from "@vigil/proto";
import { tlsChannelOptions, tlsVerifyOptions } from "../transport/tls-target";

export class EnrollError extends Error {
  constructor(
    message: string,
    readonly code: status | undefined,
  ) {
    super(message);
  }
}

function call<Req>(address: string, caPem: string, client: { keyPem: string; certPem: string } | undefined, method: "enroll" | "renew", req: Req, timeoutMs: number): Promise<Credentials> {
  const verify = tlsVerifyOptions(address);
  const creds = client ? credentials.createSsl(Buffer.from(caPem), Buffer.from(client.keyPem), Buffer.from(client.certPem), verify) : credentials.createSsl(Buffer.from(caPem), null, null, verify);
  const c = new EnrollmentServiceClient(address, creds, tlsChannelOptions(address));
  return new Promise<Credentials>((resolve, reject) => {
    const deadline = new Date(Date.now() + timeoutMs);
    const cb = (err: ServiceError | null, res?: { credentials?: Credentials }) => {
      c.close();
      if (err) return reject(new EnrollError(`${method} failed: ${status[err.code] ?? err.code}: ${err.details || err.message}`, err.code));
      if (!res?.credentials?.certificatePem) return reject(new EnrollError(`${method}: the controller returned no certificate`, undefined));
      resolve(res.credentials);
    };
    if (method === "enroll") c.enroll(req as never, new Metadata(), { deadline }, cb);
    else c.renew(req as never, new Metadata(), { deadline }, cb);
  });
}

/** Token + CSR → certificate, over TLS verified against the (pinned) controller CA. */
export function enrollRpc(address: string, caPem: string, req: { token: string; csrDer: Uint8Array; hostname: string }, timeoutMs = 15_000): Promise<Credentials> {
  return call(address, caPem, undefined, "enroll", req, timeoutMs);
}

/** New CSR → certificate, authenticated by the current client certificate. */
export function renewRpc(address: string, caPem: string, current: { keyPem: string; certPem: string }, csrDer: Uint8Array, timeoutMs = 15_000): Promise<Credentials> {
  return call(address, caPem, current, "renew", { csrDer }, timeoutMs);
}
