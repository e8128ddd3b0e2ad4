import { SetMetadata } from "@nestjs/common";

export const ROLES = ["admin", "analyst", "integration", "readonly"] as const;
export type Role = (typeof ROLES)[number];

export const ROLES_KEY = "vigil:roles";
export const PUBLIC_KEY = "vigil:public";

/**
 * Roles allowed on a route besides admin, which is always allowed. Without
 * this decorator a GET is open to every role and anything else is admin only,
 * so a new route is never more exposed than that by accident.
 * `readonly` is refused on anything but GET/HEAD whatever a route says.
 */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);

/** No API key needed (health checks). */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export function isRole(v: unknown): v is Role {
  return typeof v === "string" && (ROLES as readonly string[]).includes(v);
}

/**
 * Capabilities finer than a route's role list, checked where they are granted:
 * - evidence.fetch_file: have an agent send a file's contents (collect_evidence filePath);
 *   admin by default, analysts too with VIGIL_EVIDENCE_FILE_ROLES=admin,analyst;
 * - evidence.read_output: see what collect_evidence brought back (processes, connections, files).
 * Readonly and integration keys (dashboards, SIEM exports) never get either, whatever the config.
 */
export type Permission = "evidence.fetch_file" | "evidence.read_output";
export type PermissionGrants = Readonly<Record<Permission, readonly Role[]>>;

/** The roles that may ever hold an evidence permission. */
export const EVIDENCE_ROLES: readonly Role[] = ["admin", "analyst"];

export const DEFAULT_GRANTS: PermissionGrants = {
  "evidence.fetch_file": ["admin"],
  "evidence.read_output": ["admin", "analyst"],
};

/** Grants with the configured file-fetching roles; admin always, never beyond EVIDENCE_ROLES. */
export function grantsWith(fetchFileRoles: readonly Role[]): PermissionGrants {
  return { ...DEFAULT_GRANTS, "evidence.fetch_file": EVIDENCE_ROLES.filter((r) => r === "admin" || fetchFileRoles.includes(r)) };
}

export function can(role: Role | undefined, permission: Permission, grants: PermissionGrants = DEFAULT_GRANTS): boolean {
  return role !== undefined && grants[permission].includes(role);
}

/** Who made an API request; set by the guard on the request object. */
export interface Principal {
  keyId: string;
  name: string;
  role: Role;
}

export const PRINCIPAL = Symbol.for("vigil.principal");

/** The audit actor for a request: "apikey:<id>". */
export function actorOf(req: unknown): string {
  const p = (req as Record<symbol, Principal | undefined>)[PRINCIPAL];
  return p ? `apikey:${p.keyId}` : "anonymous";
}

export function principalOf(req: unknown): Principal | undefined {
  return (req as Record<symbol, Principal | undefined>)[PRINCIPAL];
}
