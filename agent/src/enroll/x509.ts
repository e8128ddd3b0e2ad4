// @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
// Loaded only to make a certificate request (enroll, renewal): its ~3 MB of heap is not carried
// by a running agent (key-request.ts imports this module lazily).
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

// @peculiar/x509 needs a WebCrypto provider; Node's built-in one is enough.
x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);

export { x509 };
