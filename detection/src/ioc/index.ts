export type { Ioc, IocKind, IocParseError, IocParseResult } from "./types";
export { parseIocCsv, type CsvParseOptions } from "./csv";
export { parseStixBundle, type StixParseOptions } from "./stix";
export { parseStixPattern, type PatternParse, type PatternValue } from "./stix-pattern";
export { normalizeValue, resolveKind, refang, parseConfidence, type Normalized } from "./normalize";
export { IocIndex, buildIocIndex, type IocIndexOptions } from "./ioc-index";
export { matchEvent, type IocHit, type IocField, type MatchEventOptions } from "./match";
export { parseIp, formatIp, parseCidr, formatCidr, cidrContains, unmapV4, type IpAddress, type Cidr, type IpVersion } from "./ip";
