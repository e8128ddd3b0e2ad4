import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadConfig, redactUrl } from "../config/config";
import { createDataSource } from "../database/data-source";
import { IocRepository } from "../database/repositories/ioc-repository";
import { IocCatalog } from "../detection/ioc-catalog";

const USAGE = "usage: vigil-controller iocs import FILE [--format auto|csv|list|stix] [--source NAME] [--database URL]";

/**
 * `iocs import FILE`: CSV (ours or a feed's), a plain list or a STIX 2.1 bundle into the controller's database (a running controller
 * picks the new indicators up on its next IOC change or restart). Prints the count and each
 * refused line or indicator; exit 1 when nothing could be imported.
 */
export async function iocsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "import") return usage(sub ? `unknown iocs subcommand "${sub}"` : "missing subcommand");
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: { format: { type: "string" }, source: { type: "string" }, database: { type: "string" }, "data-dir": { type: "string" } },
  });
  if (positionals.length !== 1) return usage("iocs import takes exactly one FILE");
  const file = positionals[0]!;
  if (!existsSync(file)) return usage(`${file}: no such file`);
  // auto: a feed's CSV (header row or header in its last '#' line) or a plain list, told apart by content.
  const format = values.format ?? (/\.json$/i.test(file) ? "stix" : "auto");
  if (format !== "auto" && format !== "csv" && format !== "list" && format !== "stix") return usage(`--format must be auto, csv, list or stix, got "${format}"`);
  const config = loadConfig({ database: values.database, dataDir: values["data-dir"] });
  const ds = createDataSource({ url: config.databaseUrl });
  await ds.initialize();
  try {
    // Same as `serve`: a fresh database gets its schema first.
    await ds.runMigrations({ transaction: "each" });
    const catalog = new IocCatalog(IocRepository.of(ds));
    const text = readFileSync(file, "utf8");
    const source = values.source;
    const res = format === "stix" ? await catalog.importStix(text, source) : await catalog.importCsv(text, source, format);
    for (const e of res.errors) process.stderr.write(`${file}: ${e.message}\n`);
    const omitted = res.errorsOmitted ?? 0;
    if (omitted > 0) process.stderr.write(`${file}: ... and ${omitted} more refused\n`);
    const kinds = Object.entries(res.unsupported ?? {}).map(([k, n]) => `${n} ${k}`);
    const unsupported = kinds.length > 0 ? ` (unsupported kinds: ${kinds.join(", ")})` : "";
    const sk = res.skipped;
    const skipped = sk && sk.revoked + sk.expired + sk.superseded > 0 ? `, skipped ${sk.revoked} revoked, ${sk.expired} expired, ${sk.superseded} superseded` : "";
    console.log(`imported ${res.imported}, refused ${res.errors.length + omitted}${unsupported}${skipped} into ${redactUrl(config.databaseUrl)}`);
    return res.imported > 0 || res.errors.length === 0 ? 0 : 1;
  } finally {
    await ds.destroy();
  }
}

function usage(msg: string): number {
  process.stderr.write(`vigil-controller iocs: ${msg}\n${USAGE}\n`);
  return 2;
}
