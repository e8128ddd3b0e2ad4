export { parseDnsMessage, typeName, MAX_ANSWERS, TYPE_A, TYPE_AAAA, TYPE_CNAME, type DnsAnswer, type DnsMessage, type DnsParse, type DnsQuestion } from "./dns-message";
export { PendingQueries, queryKey, type PendingQueriesOptions } from "./pending-queries";
export { ResolvedNames, type ResolvedNamesOptions } from "./resolved-names";
