#!/bin/sh
# Vigil agent installer: installs, upgrades or removes the Vigil EDR agent on a Linux host.
#
#   curl -fsSLk --pinnedpubkey sha256//PIN https://CONTROLLER/install.sh | sudo sh -s -- --token-file /root/vigil-token [--tags web,prod]
#   sudo sh scripts/install-agent.sh --binary ./dist/vigil-agent --controller HOST:PORT --token-file FILE
#   (vigil-controller install-command prints the first line with this controller's pin)
#   sudo sh install-agent.sh --uninstall [--keep-state]
#
# POSIX sh (dash, busybox ash). Run with --help for every option.
set -eu

# --- defaults: the controller fills these in when it serves this script (GET /install.sh) ---
VIGIL_URL_DEFAULT=''
VIGIL_CONTROLLER_DEFAULT=''
VIGIL_CA_PIN_DEFAULT=''
VIGIL_TLS_PIN_DEFAULT=''
VIGIL_ENROLL_DEFAULT='yes'
# --- end of defaults ---

usage() {
	cat <<'EOF'
Usage: install-agent.sh [options]

Installs /usr/local/bin/vigil-agent, /etc/vigil/agent.yaml and the systemd unit
vigil-agent.service, enrolls the agent with the controller and starts it.
Re-running upgrades in place: the binary is replaced atomically and the service
restarted; the agent id, spool and state (/var/lib/vigil) and an existing
agent.yaml are kept (only --controller / --tags given again change agent.yaml).

  --token-file FILE     read the enrollment token from FILE (keep it root-only)
  --token TOKEN         enrollment token; prefer --token-file or VIGIL_ENROLL_TOKEN:
                        a command line is visible to every user of the host
  --url URL             controller HTTPS URL to download the binary from
  --pin sha256//B64     the controller's HTTPS key pin: the download is refused
                        from any other server (VIGIL_TLS_PIN; set when served)
  --controller H:P      controller gRPC address written to agent.yaml
  --ca-pin SHA256       controller CA fingerprint for enrollment (no trust on first use)
  --tags a,b            agent tags written to agent.yaml
  --binary PATH         install this local binary instead of downloading (offline)
  --sha256 HEX          expected sha256 of the binary (checked when given; required
                        to download over plain http://)
  --no-enroll           do not enroll (e.g. a controller in development mode)
  --no-start            install and enable the unit but do not (re)start it
  --root DIR            install under DIR instead of / (image building, tests);
                        systemctl and nft are then never run (VIGIL_ROOT)
  --uninstall           stop the agent, release network isolation, remove what
                        this script installed
  --keep-state          with --uninstall: keep /var/lib/vigil (agent id, spool, keys)
  --keep-config         with --uninstall: keep /etc/vigil/agent.yaml
  -h, --help            this help
EOF
}

say() { printf 'vigil-install: %s\n' "$*"; }
warn() { printf 'vigil-install: warning: %s\n' "$*" >&2; }
die() {
	printf 'vigil-install: error: %s\n' "$*" >&2
	exit 1
}

need_arg() { [ "$#" -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"; }

URL=$VIGIL_URL_DEFAULT
CONTROLLER=''
CONTROLLER_GIVEN=no
CA_PIN=${VIGIL_CA_PIN:-$VIGIL_CA_PIN_DEFAULT}
TLS_PIN=${VIGIL_TLS_PIN:-$VIGIL_TLS_PIN_DEFAULT}
TAGS=''
TAGS_GIVEN=no
TOKEN=${VIGIL_ENROLL_TOKEN:-}
TOKEN_FILE=''
TOKEN_ON_ARGV=no
LOCAL_BINARY=''
EXPECT_SHA=''
ENROLL=$VIGIL_ENROLL_DEFAULT
START=yes
ROOT=${VIGIL_ROOT:-}
ACTION=install
KEEP_STATE=no
KEEP_CONFIG=no

while [ "$#" -gt 0 ]; do
	case $1 in
	--token) need_arg "$@"; TOKEN=$2; TOKEN_ON_ARGV=yes; shift 2 ;;
	--token=*) TOKEN=${1#*=}; TOKEN_ON_ARGV=yes; shift ;;
	--pin) need_arg "$@"; TLS_PIN=$2; shift 2 ;;
	--token-file) need_arg "$@"; TOKEN_FILE=$2; shift 2 ;;
	--url) need_arg "$@"; URL=$2; shift 2 ;;
	--controller) need_arg "$@"; CONTROLLER=$2; CONTROLLER_GIVEN=yes; shift 2 ;;
	--ca-pin) need_arg "$@"; CA_PIN=$2; shift 2 ;;
	--tags) [ "$#" -ge 2 ] || die "--tags needs a value"; TAGS=$2; TAGS_GIVEN=yes; shift 2 ;;
	--binary) need_arg "$@"; LOCAL_BINARY=$2; shift 2 ;;
	--sha256) need_arg "$@"; EXPECT_SHA=$2; shift 2 ;;
	--no-enroll) ENROLL=no; shift ;;
	--no-start) START=no; shift ;;
	--root) need_arg "$@"; ROOT=$2; shift 2 ;;
	--uninstall) ACTION=uninstall; shift ;;
	--keep-state) KEEP_STATE=yes; shift ;;
	--keep-config) KEEP_CONFIG=yes; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown option: $1" ;;
	esac
done

[ -n "$CONTROLLER" ] || CONTROLLER=$VIGIL_CONTROLLER_DEFAULT
URL=${URL%/}
if [ -n "$ROOT" ]; then
	ROOT=${ROOT%/}
	[ -d "$ROOT" ] || die "--root $ROOT: not a directory"
fi

# Paths on the target host (as the agent and systemd see them) and where we write them.
BIN_PATH=/usr/local/bin/vigil-agent
CONF_PATH=/etc/vigil/agent.yaml
STATE_PATH=/var/lib/vigil
UNIT_PATH=/etc/systemd/system/vigil-agent.service
BIN=$ROOT$BIN_PATH
CONF=$ROOT$CONF_PATH
CONF_DIR=$ROOT/etc/vigil
STATE=$ROOT$STATE_PATH
UNIT=$ROOT$UNIT_PATH
# What this script created, one path a line; --uninstall removes exactly these.
MANIFEST=$CONF_DIR/.installed

# systemd is driven only on the live system with systemd as PID 1.
use_systemd() {
	[ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
}

if [ "$TOKEN_ON_ARGV" = yes ]; then
	warn "--token puts the token on a command line every user of this host can read; prefer --token-file FILE or VIGIL_ENROLL_TOKEN"
fi

if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
	die "run as root (sudo), or use --root DIR to install into a directory"
fi

TMP=''
cleanup() { [ -z "$TMP" ] || rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Entries are "=PATH", PATH as the target host sees it (without --root): an image root copied or
# moved elsewhere and uninstalled with --root THERE removes THERE's files, never the original's.
# (Older installers wrote the full path, root included: see resolve_manifest.)
manifest_entry() { printf '=%s' "${1#"$ROOT"}"; }
manifest_has() { [ -f "$MANIFEST" ] && grep -Fqx -- "$(manifest_entry "$1")" "$MANIFEST"; }
manifest_add() { manifest_has "$1" || printf '%s\n' "$(manifest_entry "$1")" >>"$MANIFEST"; }

# mkdir -p, remembering each directory level that did not exist before.
CREATED_DIRS=''
make_dir() {
	_d=$1
	_missing=''
	while [ -n "$_d" ] && [ "$_d" != "$ROOT" ] && [ ! -d "$_d" ]; do
		_missing="$_d
$_missing"
		_d=$(dirname -- "$_d")
	done
	mkdir -p -- "$1"
	CREATED_DIRS="$CREATED_DIRS$_missing"
}

sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum -- "$1" | cut -d' ' -f1
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 -- "$1" | cut -d' ' -f1
	elif command -v openssl >/dev/null 2>&1; then
		openssl dgst -sha256 -r -- "$1" | cut -d' ' -f1
	else
		die "no sha256 tool (sha256sum, shasum or openssl): cannot verify the binary"
	fi
}

# Downloads over the channel the script was fetched on. With a pin, curl checks the server's key
# against it before reading a byte (-k only lets it accept the controller's own CA; the pin is the
# stronger check); every redirect must stay on https and meet the same pin.
fetch() { # URL FILE
	if [ -n "$TLS_PIN" ]; then
		command -v curl >/dev/null 2>&1 || die "curl is needed for a pinned download (wget cannot pin a key); or use --binary PATH --sha256 HEX"
		curl -fsSL --retry 3 --proto '=https' -k --pinnedpubkey "$TLS_PIN" -o "$2" -- "$1"
	elif command -v curl >/dev/null 2>&1; then
		# An https URL never follows a redirect down to plain http.
		case $1 in https://*) _proto='=https' ;; *) _proto='=https,http' ;; esac
		curl -fsSL --retry 3 --proto "$_proto" -o "$2" -- "$1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" -- "$1"
	else
		die "neither curl nor wget is installed"
	fi
}

yaml_quote() { # a YAML double-quoted scalar
	printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

tags_flow() { # a,b → ["a", "b"]
	_out=''
	_old_ifs=$IFS
	IFS=,
	set -f
	for _t in $1; do
		_t=$(printf '%s' "$_t" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
		[ -n "$_t" ] || continue
		_out="$_out${_out:+, }$(yaml_quote "$_t")"
	done
	set +f
	IFS=$_old_ifs
	printf '[%s]' "$_out"
}

# Replaces a top-level `key: value` line in agent.yaml, or appends it.
set_yaml_key() { # KEY VALUE
	if grep -q "^$1:[[:space:]]*$" "$CONF"; then
		warn "$CONF_PATH: $1 is a block list; not changing it (edit the file)"
		return 0
	fi
	_new="$CONF.new.$$"
	if grep -q "^$1:" "$CONF"; then
		_val=$(printf '%s' "$2" | sed 's/[\\&|]/\\&/g')
		sed "s|^$1:.*\$|$1: $_val|" "$CONF" >"$_new"
	else
		{ cat "$CONF"; printf '%s: %s\n' "$1" "$2"; } >"$_new"
	fi
	chmod 0640 "$_new"
	mv -f -- "$_new" "$CONF"
}

write_unit() { # FILE
	cat >"$1" <<EOF
# Installed by the Vigil agent installer; removed by install-agent.sh --uninstall.
[Unit]
Description=Vigil EDR agent
# Started early, before the network is configured, so a host that was isolated
# comes back isolated: ExecStartPre puts the persisted nftables rules back and
# finishes before network-pre.target is reached; the agent itself follows.
DefaultDependencies=no
Wants=network-pre.target
Before=network-pre.target shutdown.target
After=local-fs.target systemd-journald.socket
Conflicts=shutdown.target
RequiresMountsFor=$STATE_PATH
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStartPre=$BIN_PATH reapply --config $CONF_PATH
ExecStart=$BIN_PATH run --config $CONF_PATH
Restart=always
RestartSec=2
# The agent's own watchdog exits 75 on a memory/CPU breach and is restarted here (counted in
# its state dir); 78 means the controller refused it for good (on_fatal: exit): do not loop.
RestartPreventExitStatus=78
# glibc gives each thread that allocates a malloc arena of its own, and V8's compiler and GC
# threads kept 7 MB resident in nine of them at idle. Two arenas in all: ~5 MB less at idle, no
# measurable CPU per exec handled (docs/benchmarks.md; bench:sensor starts the agent with these
# Environment= lines). glibc reads it before the agent runs, and unlike V8 flags in NODE_OPTIONS
# it leaves the binary's code cache valid.
Environment=MALLOC_ARENA_MAX=2
# glibc raises its trim threshold to twice the largest block freed so far (up to 64 MB): after
# the start-up's large buffers (the embedded helper read and hashed, file baselines) it kept
# megabytes of freed heap resident for good. Setting it fixes it at glibc's default 128 KiB.
Environment=MALLOC_TRIM_THRESHOLD_=131072
# Runs as root with its full view of the host: enforcement needs nft
# (CAP_NET_ADMIN), kill (CAP_KILL), other processes' /proc (CAP_SYS_PTRACE) and
# files (CAP_DAC_READ_SEARCH); response actions act on files anywhere, so no
# ProtectSystem/ProtectHome/PrivateTmp (they would hide /tmp and /home from it).
# Only what never gets in the way of that is turned off:
NoNewPrivileges=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
StateDirectory=vigil
StateDirectoryMode=0700
# Core dumps would hold the agent's private key.
LimitCORE=0
OOMScoreAdjust=-500
KillMode=mixed
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
EOF
}

# ---------------------------------------------------------------- uninstall

release_isolation() {
	if [ -n "$ROOT" ]; then
		say "--root: not touching the running kernel's nftables (vigil_isolate, vigil_block)"
		return 0
	fi
	if ! command -v nft >/dev/null 2>&1; then
		return 0
	fi
	# Only Vigil's own tables; the agent is stopped, so nothing re-applies them.
	for _t in vigil_isolate vigil_block; do
		if nft list table inet "$_t" >/dev/null 2>&1; then
			if nft delete table inet "$_t"; then say "released: nftables table inet $_t deleted"; else warn "could not delete nftables table inet $_t"; fi
		fi
	done
}

# The install record as paths under this --root. A legacy full-path entry outside it belongs to
# another root (the image this one was copied from): skipped, and said.
resolve_manifest() {
	while IFS= read -r _e; do
		case $_e in
		=/*) printf '%s%s\n' "$ROOT" "${_e#=}" ;;
		/*)
			if [ -z "$ROOT" ]; then
				printf '%s\n' "$_e"
			else
				case $_e in
				"$ROOT"/*) printf '%s\n' "$_e" ;;
				*) warn "not removing $_e: recorded for another root, not under $ROOT" ;;
				esac
			fi
			;;
		esac
	done
}

uninstall() {
	if use_systemd; then
		systemctl disable --now vigil-agent.service 2>/dev/null || true
	elif [ -z "$ROOT" ] && [ -f "$BIN" ]; then
		warn "systemd is not running: stop any running vigil-agent yourself"
	fi
	release_isolation
	if [ ! -f "$MANIFEST" ]; then
		warn "no install record at $MANIFEST: removing the standard paths only"
		printf '%s\n' "$BIN" "$UNIT" "$CONF" "$STATE" >"${TMP}/manifest"
	else
		resolve_manifest <"$MANIFEST" >"${TMP}/manifest"
		rm -f -- "$MANIFEST"
	fi
	# Files first, then directories deepest first (only when empty, except the state dir).
	while IFS= read -r _p; do
		[ -n "$_p" ] || continue
		case $_p in
		"$STATE") continue ;;
		"$CONF") [ "$KEEP_CONFIG" = yes ] && { say "kept $CONF"; continue; } ;;
		esac
		if [ -f "$_p" ] || [ -L "$_p" ]; then rm -f -- "$_p"; fi
	done <"${TMP}/manifest"
	if [ -d "$STATE" ]; then
		if [ "$KEEP_STATE" = yes ]; then say "kept $STATE (agent id, spool, keys)"; else rm -rf -- "$STATE"; fi
	fi
	sort -r "${TMP}/manifest" | while IFS= read -r _p; do
		[ -n "$_p" ] && [ -d "$_p" ] && [ "$_p" != "$STATE" ] && rmdir -- "$_p" 2>/dev/null || true
	done
	if use_systemd; then systemctl daemon-reload || true; fi
	say "uninstalled"
}

# ---------------------------------------------------------------- install

obtain_binary() { # → $TMP/vigil-agent, verified
	_dst=$TMP/vigil-agent
	if [ -n "$LOCAL_BINARY" ]; then
		[ -f "$LOCAL_BINARY" ] || die "--binary $LOCAL_BINARY: no such file"
		cp -- "$LOCAL_BINARY" "$_dst"
		_want=$EXPECT_SHA
	else
		[ -n "$URL" ] || die "no controller URL: pass --url https://CONTROLLER, or --binary PATH"
		case $URL in
		https://*) ;;
		http://*)
			# Over plain HTTP a man in the middle swaps the binary and its checksum together:
			# only a checksum the admin brought (--sha256) still means something.
			[ -n "$EXPECT_SHA" ] || die "refusing to download the agent over plain HTTP ($URL): a man in the middle could swap it and its checksum. Use the controller's https:// URL (with --pin), or --sha256 HEX from the controller's admin"
			[ -z "$TLS_PIN" ] || die "--pin needs an https:// URL"
			;;
		*) die "--url must be https://HOST[:PORT] (got $URL)" ;;
		esac
		say "downloading $URL/api/v1/agent/binary${TLS_PIN:+ (TLS key pinned)}"
		fetch "$URL/api/v1/agent/binary.sha256" "$TMP/sha256" || die "cannot download $URL/api/v1/agent/binary.sha256${TLS_PIN:+ (a pin mismatch means the server is not this controller: nothing was installed)}"
		fetch "$URL/api/v1/agent/binary" "$_dst" || die "cannot download $URL/api/v1/agent/binary"
		_want=${EXPECT_SHA:-$(cut -d' ' -f1 <"$TMP/sha256")}
		[ -n "$_want" ] || die "the controller sent an empty checksum"
	fi
	if [ -n "$_want" ]; then
		_got=$(sha256_of "$_dst")
		_want=$(printf '%s' "$_want" | tr 'A-F' 'a-f')
		if [ "$_got" != "$_want" ]; then
			die "checksum mismatch: expected sha256 $_want, got $_got; refusing to install (nothing was changed)"
		fi
		say "sha256 verified: $_got"
	fi
	chmod 0755 "$_dst"
	NEW_VERSION=$("$_dst" version 2>/dev/null) || die "the downloaded binary does not run on this host ($(uname -m))"
}

write_config() {
	if [ -f "$CONF" ]; then
		# Upgrade: keep the admin's file; change only what was asked for on this run.
		[ "$CONTROLLER_GIVEN" = yes ] && set_yaml_key controller "$(yaml_quote "$CONTROLLER")"
		[ "$TAGS_GIVEN" = yes ] && set_yaml_key tags "$(tags_flow "$TAGS")"
		say "kept $CONF_PATH$([ "$CONTROLLER_GIVEN$TAGS_GIVEN" != nono ] && printf ' (updated the keys given)')"
		return 0
	fi
	[ -n "$CONTROLLER" ] || die "no controller address: pass --controller HOST:PORT"
	_new="$CONF.new.$$"
	{
		printf '# Vigil agent configuration (vigil-agent run --config %s).\n' "$CONF_PATH"
		printf '# Re-running the installer keeps this file; keys: see the agent documentation.\n'
		printf 'controller: %s\n' "$(yaml_quote "$CONTROLLER")"
		printf 'state_dir: %s\n' "$STATE_PATH"
		printf 'tags: %s\n' "$(tags_flow "$TAGS")"
	} >"$_new"
	chmod 0640 "$_new"
	mv -f -- "$_new" "$CONF"
	manifest_add "$CONF"
	say "wrote $CONF_PATH"
}

enroll() {
	if [ "$ENROLL" != yes ]; then
		say "not enrolling (--no-enroll)"
		return 0
	fi
	if [ -f "$STATE/tls/identity.json" ]; then
		say "already enrolled (keeping the agent identity in $STATE_PATH/tls)"
		return 0
	fi
	if ! "$BIN" --help 2>/dev/null | grep -q '^  enroll'; then
		warn "this agent build has no 'enroll' command; skipping enrollment"
		return 0
	fi
	if [ -z "$TOKEN" ] && [ -n "$TOKEN_FILE" ]; then
		[ -r "$TOKEN_FILE" ] || die "--token-file $TOKEN_FILE: cannot read"
		TOKEN=$(cat -- "$TOKEN_FILE")
	fi
	[ -n "$TOKEN" ] || die "an enrollment token is required: --token-file FILE or VIGIL_ENROLL_TOKEN (or --no-enroll)"
	# Through a private file, so the token is not in the process list.
	(umask 077 && printf '%s\n' "$TOKEN" >"$TMP/token")
	set -- enroll --config "$CONF" --controller "$CONTROLLER_EFFECTIVE" --state-dir "$STATE" --token-file "$TMP/token"
	[ -n "$CA_PIN" ] && set -- "$@" --ca-pin "$CA_PIN"
	"$BIN" "$@" || die "enrollment failed (the agent is installed but not started; fix the cause and re-run)"
}

install() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/vigil-install.XXXXXX")
	obtain_binary
	say "agent version $NEW_VERSION"

	make_dir "$ROOT/usr/local/bin"
	[ -d "$CONF_DIR" ] || { make_dir "$CONF_DIR" && chmod 0755 "$CONF_DIR"; }
	make_dir "$ROOT/etc/systemd/system"
	_had_state=yes
	[ -d "$STATE" ] || _had_state=no
	make_dir "$STATE"
	chmod 0700 "$STATE"
	# Record the directories we created (the manifest lives in one of them).
	printf '%s' "$CREATED_DIRS" | while IFS= read -r _d; do [ -n "$_d" ] && manifest_add "$_d"; done
	[ "$_had_state" = no ] && manifest_add "$STATE"

	# Atomic replace: copy beside the target, then rename over it.
	[ -f "$BIN" ] || manifest_add "$BIN"
	cp -- "$TMP/vigil-agent" "$BIN.new.$$"
	chmod 0755 "$BIN.new.$$"
	mv -f -- "$BIN.new.$$" "$BIN"
	say "installed $BIN_PATH"

	write_config
	# What the agent will use: agent.yaml's controller (quotes and a trailing comment removed).
	CONTROLLER_EFFECTIVE=$(sed -n 's/^controller:[[:space:]]*//p' "$CONF" | sed 's/[[:space:]]#.*$//' | tr -d "\"' " | head -n 1)
	[ -n "$CONTROLLER_EFFECTIVE" ] || CONTROLLER_EFFECTIVE=$CONTROLLER

	[ -f "$UNIT" ] || manifest_add "$UNIT"
	write_unit "$UNIT.new.$$"
	chmod 0644 "$UNIT.new.$$"
	mv -f -- "$UNIT.new.$$" "$UNIT"
	say "wrote $UNIT_PATH"

	enroll

	if use_systemd; then
		systemctl daemon-reload
		systemctl enable vigil-agent.service >/dev/null 2>&1 || warn "systemctl enable failed"
		if [ "$START" = yes ]; then
			systemctl restart vigil-agent.service
			say "started vigil-agent.service"
		fi
	elif [ -n "$ROOT" ]; then
		# Enable offline as systemctl would, without running it: the [Install] symlink.
		_wants=$ROOT/etc/systemd/system/multi-user.target.wants
		[ -d "$_wants" ] || { mkdir -p -- "$_wants" && manifest_add "$_wants"; }
		[ -L "$_wants/vigil-agent.service" ] || manifest_add "$_wants/vigil-agent.service"
		ln -sf "$UNIT_PATH" "$_wants/vigil-agent.service"
		say "--root: enabled the unit offline; systemctl was not run"
	else
		warn "systemd is not running (PID 1 is $(cat /proc/1/comm 2>/dev/null || echo unknown)): start the agent yourself: $BIN_PATH run --config $CONF_PATH"
	fi
	say "done: vigil-agent $NEW_VERSION installed"
}

if [ "$ACTION" = uninstall ]; then
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/vigil-install.XXXXXX")
	uninstall
else
	install
fi
