import { type CommandRunner, runChecked } from "./runner";

/** The only nft operations enforcement needs; every change goes through one atomic `nft -f`. */
export class Nft {
  constructor(private readonly run: CommandRunner) {}

  /** Applies a complete ruleset in one kernel transaction: all of it or none of it. */
  async apply(ruleset: string): Promise<void> {
    await runChecked(this.run, ["nft", "-f", "-"], { input: ruleset });
  }

  /** Checks a ruleset without touching the kernel. */
  async check(ruleset: string): Promise<void> {
    await runChecked(this.run, ["nft", "-c", "-f", "-"], { input: ruleset });
  }

  async tableExists(family: string, name: string): Promise<boolean> {
    const r = await this.run(["nft", "list", "table", family, name]);
    return r.code === 0;
  }

  async listTable(family: string, name: string): Promise<string | null> {
    const r = await this.run(["nft", "list", "table", family, name]);
    return r.code === 0 ? r.stdout : null;
  }

  /** Deletes the table if present; absent is not an error (release is idempotent). */
  async deleteTable(family: string, name: string): Promise<void> {
    // "add table" then "delete table" in one batch never fails on a missing table.
    await this.apply(`add table ${family} ${name}\ndelete table ${family} ${name}\n`);
  }

  /** Lists every table as "family name", for tests and status reports. */
  async listTables(): Promise<string[]> {
    const out = await runChecked(this.run, ["nft", "list", "tables"]);
    return out
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith("table "))
      .map((l) => l.slice("table ".length));
  }
}

/** Whether the nft binary can be run at all (used to skip with a reason where it cannot). */
export async function nftAvailable(run: CommandRunner): Promise<{ ok: boolean; reason: string }> {
  const r = await run(["nft", "--version"]);
  return r.code === 0 ? { ok: true, reason: "" } : { ok: false, reason: r.stderr.trim() || "nft not runnable" };
}
