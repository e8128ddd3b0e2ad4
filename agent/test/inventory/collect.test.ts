import { describe, expect, it } from "vitest";
import { parseDpkgStatus, parsePasswdUsers } from "../../src/inventory";

describe("inventory parsers", () => {
  it("dpkg status: installed packages only, with versions", () => {
    const text = [
      "Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.2p1-2+deb12u3\n",
      "Package: removed-one\nStatus: deinstall ok config-files\nVersion: 1.0\n",
      "Package: half\nStatus: install ok half-configured\nVersion: 2.0\n",
      "Package: curl\nStatus: install ok installed\nPriority: optional\nVersion: 7.88.1-10+deb12u8\nDescription: a\n multi-line description\n",
    ].join("\n");
    expect(parseDpkgStatus(text)).toEqual([
      { name: "openssh-server", version: "1:9.2p1-2+deb12u3" },
      { name: "curl", version: "7.88.1-10+deb12u8" },
    ]);
  });

  it("passwd: every account, uid 0 included; malformed lines skipped; fields clipped", () => {
    const users = parsePasswdUsers(`root:x:0:0:root:/root:/bin/bash\nbroken line\ntoor:x:0:0::/tmp:/bin/sh\nneg:x:-1:0::/:/bin/sh\n${"a".repeat(1000)}:x:1000:1000::/home/a:/bin/bash\n`);
    expect(users.map((u) => [u.name.length > 10 ? "long" : u.name, u.uid, u.shell])).toEqual([
      ["root", 0, "/bin/bash"],
      ["toor", 0, "/bin/sh"],
      ["long", 1000, "/bin/bash"],
    ]);
    expect(users[2]!.name.length).toBe(256);
  });
});
