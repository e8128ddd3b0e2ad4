import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ownerOnlyDir, ownerOnlyFile } from "./owner-only";

/** The controller's Ed25519 key that signs every command and policy sent to agents. */
export class CommandSigner {
  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicKeyRaw: Buffer,
  ) {}

  /** Loads the key from `path`, creating it (mode 0600) on first start. */
  static loadOrCreate(path: string): CommandSigner {
    let pem: string;
    if (existsSync(path)) {
      // Whoever reads this key can sign commands every agent obeys.
      ownerOnlyDir(dirname(path), true);
      ownerOnlyFile(path);
      pem = readFileSync(path, "utf8");
    } else {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const { privateKey } = generateKeyPairSync("ed25519");
      pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
      writeFileSync(path, pem, { mode: 0o600, flag: "wx" });
    }
    const key = createPrivateKey(pem);
    const spki = createPublicKey(key).export({ type: "spki", format: "der" });
    // The raw 32-byte key is the last 32 bytes of the Ed25519 SPKI encoding.
    return new CommandSigner(key, spki.subarray(spki.length - 32));
  }

  sign(payload: Buffer): Buffer {
    return sign(null, payload, this.privateKey);
  }
}
