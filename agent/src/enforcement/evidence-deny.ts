import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * What collect_evidence never reads or hashes, whoever signed the command: the
 * host's credentials and Vigil's own keys and state. Checked against the canonical
 * path (symlinks resolved) and, for the concrete secret files, against the file's
 * identity (device + inode), so a hard link or a bind mount of a secret elsewhere
 * is refused too. A path rule is a prefix ending in "/" (a directory and all below
 * it) or an exact path.
 */
export interface DenyListOptions {
  /** The agent's state dir: its private key, certificates, spool, replay store. */
  stateDir: string;
  /** More paths from the agent config (evidence_deny), e.g. the controller's data dir on this host. */
  extra?: readonly string[];
}

/** Kernel and device trees: not files, and /proc/<pid>/environ, mem, root/... lead to secrets. */
const PSEUDO_FS = ["/proc/", "/sys/", "/dev/"];

/** Credentials of the host itself. */
const SECRET_FILES = ["/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/security/opasswd", "/etc/krb5.keytab"];
const SECRET_DIRS = ["/etc/ssl/private/", "/etc/pki/tls/private/", "/run/secrets/", "/run/credentials/", "/var/lib/sss/secrets/"];

/** Where Vigil keeps its own configuration and state by default (agent and controller). */
const VIGIL_DIRS = ["/etc/vigil/", "/var/lib/vigil/", "/var/lib/vigil-controller/", "/root/.vigil/", "/root/.local/state/vigil/"];

const SSH_HOST_KEY = /^\/etc\/ssh\/ssh_host_[^/]*_key$/;
/** A user's SSH private key (id_rsa, id_ed25519, …), not its .pub. */
const SSH_USER_KEY = /\/\.ssh\/id_[^/]*$/;
const GNUPG_PRIVATE = /\/\.gnupg\/(private-keys-v1\.d\/|secring\.gpg$)/;
/** Where tools keep a user's credentials in the clear (cloud, database, registry, cluster, git). */
const USER_CREDENTIALS = /\/(\.aws\/credentials|\.netrc|\.pgpass|\.my\.cnf|\.git-credentials|\.docker\/config\.json|\.kube\/config|\.config\/gcloud\/[^/]*credential[^/]*)$/;
/** Network secrets of the host (Wi-Fi and VPN pre-shared keys). */
const NETWORK_SECRETS = /^\/etc\/(NetworkManager\/system-connections\/|wpa_supplicant\/|ipsec\.secrets$|ppp\/(chap|pap)-secrets$)/;
/** A user's own Vigil state (non-root agents keep it in ~/.local/state/vigil). */
const USER_VIGIL = /\/\.(vigil|local\/state\/vigil)(\/|$)/;
/** The controller's SQLite database and its journals, wherever its data dir is. */
const VIGIL_DB = /\/vigil\.db(-wal|-shm|-journal)?$/;

/** Most entries a secret-identity scan looks at, so a huge home tree cannot stall a command. */
const MAX_IDENTITY_SCAN = 20_000;

const withSlash = (p: string): string => (p.endsWith("/") ? p : `${p}/`);

function resolved(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p; // not there (yet): the path as configured
  }
}

export class EvidenceDenyList {
  private readonly prefixes: string[];

  constructor(private readonly o: DenyListOptions) {
    // Configured places as given and as they resolve: a state dir reached through a symlink is still protected.
    const own = [o.stateDir, ...(o.extra ?? [])].flatMap((p) => [p, resolved(p)]);
    this.prefixes = [...new Set([...PSEUDO_FS, ...SECRET_DIRS, ...VIGIL_DIRS, ...own.map(withSlash)])];
  }

  /** Why a canonical absolute path may not be read, or undefined if it may. */
  reasonFor(canonical: string): string | undefined {
    const dir = withSlash(canonical);
    for (const p of this.prefixes) if (canonical.startsWith(p) || dir === p) return `${p} is protected`;
    if (SECRET_FILES.includes(canonical)) return `${canonical} holds credentials`;
    if (SSH_HOST_KEY.test(canonical)) return "SSH host private keys are protected";
    if (SSH_USER_KEY.test(canonical) && !canonical.endsWith(".pub")) return "SSH private keys are protected";
    if (GNUPG_PRIVATE.test(canonical)) return "GnuPG private keys are protected";
    if (USER_CREDENTIALS.test(canonical)) return "stored credentials are protected";
    if (NETWORK_SECRETS.test(canonical)) return "network secrets are protected";
    if (USER_VIGIL.test(canonical)) return "Vigil state is protected";
    if (VIGIL_DB.test(canonical)) return "the Vigil database is protected";
    return undefined;
  }

  /** A view for one command: the identity scan runs at most once however many paths it names. */
  forOneRequest(): EvidenceDenyList {
    let ids: Map<string, string> | undefined;
    const view = Object.create(this) as EvidenceDenyList;
    view.secretIdentities = () => (ids ??= this.secretIdentities());
    return view;
  }

  /**
   * Device:inode of every concrete secret file this host has now (shadow files, SSH
   * host and user keys, Vigil's state), to refuse the same file reached by another name.
   */
  secretIdentities(): Map<string, string> {
    const ids = new Map<string, string>();
    let budget = MAX_IDENTITY_SCAN;
    const add = (path: string): void => {
      if (budget-- <= 0) return;
      try {
        const st = statSync(path);
        if (st.isFile()) ids.set(`${st.dev}:${st.ino}`, path);
      } catch {
        // absent on this host
      }
    };
    const addDir = (dir: string, depth: number, keep: (name: string) => boolean = () => true): void => {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return;
      }
      for (const n of names) {
        if (budget <= 0) return;
        const p = join(dir, n);
        if (keep(n)) add(p);
        if (depth > 0) addDir(p, depth - 1, keep);
      }
    };
    SECRET_FILES.forEach(add);
    addDir("/etc/ssh", 0, (n) => /^ssh_host_.*_key$/.test(n));
    addDir(this.o.stateDir, 3);
    for (const home of homeDirs()) addDir(join(home, ".ssh"), 0, (n) => n.startsWith("id_") && !n.endsWith(".pub"));
    return ids;
  }
}

/** Home directories from /etc/passwd (plus /root), for the users' SSH keys. */
function homeDirs(): string[] {
  const homes = new Set(["/root"]);
  try {
    for (const line of readFileSync("/etc/passwd", "utf8").split("\n").slice(0, 10_000)) {
      const home = line.split(":")[5];
      if (home && home.startsWith("/") && home !== "/") homes.add(home);
    }
  } catch {
    // no passwd: /root only
  }
  return [...homes];
}

/** PEM and OpenSSH private keys announce themselves; no legitimate evidence read needs one. */
const PRIVATE_KEY_MARKERS = [Buffer.from("PRIVATE KEY-----"), Buffer.from("PuTTY-User-Key-File")];

export function looksLikePrivateKey(data: Buffer): boolean {
  return PRIVATE_KEY_MARKERS.some((m) => data.includes(m));
}
