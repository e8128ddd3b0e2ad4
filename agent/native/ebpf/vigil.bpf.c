// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/* Vigil's kernel sensor: tracepoints only (this fleet's kernels may have no kprobes), CO-RE so one
 * object runs on every BTF kernel. It only copies what user space cannot read afterwards (argv of a
 * process that is gone, the process behind a connect or a file change) into one ring buffer; every
 * decision stays in the TypeScript agent. A record that does not fit is counted, never lost
 * silently. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "vigil.h"

/* The probe_read and ringbuf helpers are GPL-only. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10
#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_TRUNC 01000
#define S_IFMT 0170000
#define S_IFSOCK 0140000

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 << 20); /* ~8,000 full exec records; bursts beyond are counted as drops */
} events SEC(".maps");

/* Records are built here, not on the 512-byte BPF stack. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct vigil_exec);
} exec_scratch SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct vigil_file);
} file_scratch SEC(".maps");

/* Index 0: records the ring buffer had no room for. Index 1: records written. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

struct vigil_prefix {
  __u32 len;
  char s[VIGIL_PREFIX_LEN];
};

/* Watched path prefixes for file records; the loader fills the first prefix_count. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, VIGIL_PREFIX_MAX);
  __type(key, __u32);
  __type(value, struct vigil_prefix);
} prefixes SEC(".maps");

const volatile __u32 prefix_count = 0;

static __always_inline void count(__u32 which) {
  __u64 *c = bpf_map_lookup_elem(&counters, &which);
  if (c) *c += 1;
}

static __always_inline void emit(void *rec, __u64 size) {
  if (bpf_ringbuf_output(&events, rec, size, 0) == 0) count(1);
  else count(0);
}

static __always_inline void fill_task(struct vigil_task *t, __u32 kind) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  __u64 pt = bpf_get_current_pid_tgid();
  t->kind = kind;
  t->pid = pt >> 32;
  t->tid = (__u32)pt;
  t->ppid = BPF_CORE_READ(task, real_parent, tgid);
  t->uid = (__u32)bpf_get_current_uid_gid();
  t->euid = BPF_CORE_READ(task, cred, euid.val);
  t->ts_ns = bpf_ktime_get_boot_ns();
  t->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
  t->cgroup_id = bpf_get_current_cgroup_id();
  bpf_get_current_comm(t->comm, sizeof(t->comm));
}

/* The working directory by walking its dentries up to the root, crossing mounts, so a process that
 * is gone before user space can read /proc/<pid>/cwd still has it. Names go innermost first. One
 * step per bpf_loop call, so the verifier checks the step once, not every unrolled path. */
struct cwd_walk {
  struct vigil_exec *e;
  struct dentry *d;
  struct vfsmount *vmnt;
  struct mount *mnt;
  __u32 depth;
};

static long cwd_step(__u64 i, void *arg) {
  struct cwd_walk *w = arg;
  /* Plain locals: a CO-RE read must start from a kernel type, not from this struct's fields. */
  struct dentry *d = w->d;
  struct vfsmount *vmnt = w->vmnt;
  struct mount *mnt = w->mnt;
  struct dentry *parent = BPF_CORE_READ(d, d_parent);
  if (d == BPF_CORE_READ(vmnt, mnt_root) || d == parent) {
    struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
    if (up == mnt) {
      w->e->cwd_truncated = 0; /* the namespace's root: the walk is complete */
      return 1;
    }
    w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
    w->mnt = up;
    w->vmnt = &up->mnt;
    return 0;
  }
  __u32 depth = w->depth;
  if (depth >= VIGIL_CWD_DEPTH) return 1;
  const unsigned char *name = BPF_CORE_READ(d, d_name.name);
  long n = bpf_probe_read_kernel_str(w->e->cwd[depth & (VIGIL_CWD_DEPTH - 1)], VIGIL_CWD_NAME, name);
  if (n <= 0 || n == VIGIL_CWD_NAME) return 1; /* unreadable, or a name longer than the slot */
  w->depth = depth + 1;
  w->d = parent;
  return 0;
}

static __always_inline void fill_cwd(struct vigil_exec *e, struct task_struct *task) {
  struct cwd_walk w = {.e = e, .d = BPF_CORE_READ(task, fs, pwd.dentry), .vmnt = BPF_CORE_READ(task, fs, pwd.mnt), .depth = 0};
  w.mnt = container_of(w.vmnt, struct mount, mnt);
  e->cwd_truncated = 1;
  bpf_loop(VIGIL_CWD_DEPTH + 8, cwd_step, &w, 0);
  e->cwd_depth = w.depth;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(opt_fork, struct task_struct *parent, struct task_struct *child) {
  if (child->pid != child->tgid) return 0; /* a thread: same process */
  struct vigil_fork f = {};
  f.kind = VIGIL_REC_FORK;
  f.pid = child->tgid;
  f.ppid = parent->tgid;
  f.ts_ns = bpf_ktime_get_boot_ns();
  f.start_ns = child->start_boottime;
  emit(&f, sizeof(f));
  return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int vigil_exec(struct trace_event_raw_sched_process_exec *ctx) {
  __u32 zero = 0;
  struct vigil_exec *e = bpf_map_lookup_elem(&exec_scratch, &zero);
  if (!e) return 0;
  fill_task(&e->t, VIGIL_REC_EXEC);
  unsigned int off = ctx->__data_loc_filename & 0xFFFF;
  long n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + off);
  e->filename_len = n > 0 ? n - 1 : 0;

  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  fill_cwd(e, task);
  struct mm_struct *mm = BPF_CORE_READ(task, mm);
  unsigned long start = BPF_CORE_READ(mm, arg_start);
  unsigned long end = BPF_CORE_READ(mm, arg_end);
  __u64 len = end > start ? end - start : 0;
  e->args_truncated = 0;
  if (len > VIGIL_ARGS_MAX) {
    len = VIGIL_ARGS_MAX;
    e->args_truncated = 1;
  }
  /* The argv pages of a fresh exec are resident, so this read does not fault in practice; a
   * failed read leaves argv empty and the agent falls back to the file name. */
  if (len > 0 && bpf_probe_read_user(e->args, len, (void *)start) != 0) len = 0;
  e->args_len = len;
  __u64 size = __builtin_offsetof(struct vigil_exec, args) + len;
  if (size > sizeof(*e)) size = sizeof(*e);
  emit(e, size);
  return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int vigil_exit(struct trace_event_raw_sched_process_exit *ctx) {
  __u64 pt = bpf_get_current_pid_tgid();
  /* One record per process, when its last thread goes. */
  if (bpf_core_field_exists(ctx->group_dead)) {
    if (!BPF_CORE_READ(ctx, group_dead)) return 0;
  } else if ((pt >> 32) != (__u32)pt) {
    return 0;
  }
  struct vigil_exit x = {};
  fill_task(&x.t, VIGIL_REC_EXIT);
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  x.exit_code = BPF_CORE_READ(task, exit_code);
  emit(&x, sizeof(x));
  return 0;
}

/* The socket behind a descriptor of the current process, or NULL. */
static __always_inline struct socket *fd_socket(__u64 fd) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
  if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds)) return 0;
  struct file **fds = BPF_CORE_READ(fdt, fd);
  struct file *f = 0;
  if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) != 0 || !f) return 0;
  /* Any other file's private_data is not a socket: a send on a pipe must not read as one. */
  if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK) return 0;
  return (struct socket *)BPF_CORE_READ(f, private_data);
}

SEC("tracepoint/syscalls/sys_enter_connect")
int vigil_connect(struct trace_event_raw_sys_enter *ctx) {
  const void *uaddr = (const void *)ctx->args[1];
  __u16 family = 0;
  if (bpf_probe_read_user(&family, sizeof(family), uaddr) != 0) return 0;
  if (family != AF_INET && family != AF_INET6) return 0;
  struct vigil_connect c = {};
  fill_task(&c.t, VIGIL_REC_CONNECT);
  c.family = family;
  c.direction = VIGIL_CONN_OUTBOUND;
  struct socket *sock = fd_socket(ctx->args[0]);
  if (sock) c.socktype = BPF_CORE_READ(sock, type);
  __u16 port_be = 0;
  bpf_probe_read_user(&port_be, sizeof(port_be), uaddr + 2);
  c.port = __builtin_bswap16(port_be);
  if (family == AF_INET) bpf_probe_read_user(c.addr, 4, uaddr + 4);
  else bpf_probe_read_user(c.addr, 16, uaddr + 8);
  emit(&c, sizeof(c));
  return 0;
}

/* An accepted connection, read from the new descriptor accept returned: the peer's address and
 * the local port, with the process that accepted it. */
static __always_inline int accepted(struct trace_event_raw_sys_exit *ctx) {
  long fd = ctx->ret;
  if (fd < 0) return 0;
  struct socket *sock = fd_socket((__u64)fd);
  if (!sock) return 0;
  struct sock *sk = BPF_CORE_READ(sock, sk);
  if (!sk) return 0;
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (family != AF_INET && family != AF_INET6) return 0;
  struct vigil_connect c = {};
  fill_task(&c.t, VIGIL_REC_CONNECT);
  c.family = family;
  c.direction = VIGIL_CONN_INBOUND;
  c.socktype = BPF_CORE_READ(sock, type);
  c.port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
  c.local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
  if (family == AF_INET) {
    __u32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(c.addr, &a, 4);
  } else {
    BPF_CORE_READ_INTO(&c.addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
  }
  emit(&c, sizeof(c));
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int vigil_accept4(struct trace_event_raw_sys_exit *ctx) {
  return accepted(ctx);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int opt_vigil_accept(struct trace_event_raw_sys_exit *ctx) {
  return accepted(ctx);
}

/* A TCP socket that starts closing, closes or listens (FIN_WAIT1 to CLOSING in vmlinux.h's enum):
 * what /proc/net shows changed, so the agent's poller reads it now instead of at its slow
 * reconcile. The opening states are left out: connect and accept records say so, with the process.
 * Present since Linux 4.16, older than BTF itself, so not optional. */
SEC("tracepoint/sock/inet_sock_set_state")
int vigil_sock_state(struct trace_event_raw_inet_sock_set_state *ctx) {
  if (ctx->protocol != IPPROTO_TCP || (ctx->family != AF_INET && ctx->family != AF_INET6)) return 0;
  if (ctx->newstate <= TCP_SYN_RECV || ctx->newstate == TCP_NEW_SYN_RECV) return 0;
  struct vigil_sock s = {VIGIL_REC_SOCK, (__u32)ctx->newstate, bpf_ktime_get_boot_ns()};
  emit(&s, sizeof(s));
  return 0;
}

/* True when path starts with one of the watched prefixes (a '*' in a prefix ends it: the agent
 * checks globs exactly). Absolute paths only: a relative one needs the process's cwd, which the
 * agent resolves for the process sensor but is not worth a dentry walk here. */
static __always_inline int watched(const char *path) {
  if (path[0] != '/') return 0;
  for (__u32 i = 0; i < VIGIL_PREFIX_MAX; i++) {
    if (i >= prefix_count) return 0;
    __u32 k = i;
    struct vigil_prefix *p = bpf_map_lookup_elem(&prefixes, &k);
    if (!p) return 0;
    int ok = 1;
    for (__u32 j = 0; j < VIGIL_PREFIX_LEN; j++) {
      if (j >= p->len) break;
      if (path[j] != p->s[j]) {
        ok = 0;
        break;
      }
    }
    if (ok) return 1;
  }
  return 0;
}

static __always_inline int file_event(__u32 op, const char *upath, const char *upath2, __u32 flags) {
  __u32 zero = 0;
  struct vigil_file *f = bpf_map_lookup_elem(&file_scratch, &zero);
  if (!f) return 0;
  if (bpf_probe_read_user_str(f->path, sizeof(f->path), upath) <= 0) return 0;
  f->path2[0] = 0;
  if (upath2) bpf_probe_read_user_str(f->path2, sizeof(f->path2), upath2);
  if (!watched(f->path) && !(upath2 && watched(f->path2))) return 0;
  fill_task(&f->t, VIGIL_REC_FILE);
  f->op = op;
  f->flags = flags;
  emit(f, sizeof(*f));
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int vigil_openat(struct trace_event_raw_sys_enter *ctx) {
  __u32 flags = (__u32)ctx->args[2];
  if (!(flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC))) return 0;
  return file_event(VIGIL_FILE_OPEN_WRITE, (const char *)ctx->args[1], 0, flags);
}

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int vigil_unlinkat(struct trace_event_raw_sys_enter *ctx) {
  return file_event(VIGIL_FILE_UNLINK, (const char *)ctx->args[1], 0, 0);
}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int vigil_renameat2(struct trace_event_raw_sys_enter *ctx) {
  return file_event(VIGIL_FILE_RENAME, (const char *)ctx->args[1], (const char *)ctx->args[3], 0);
}

SEC("tracepoint/syscalls/sys_enter_fchmodat")
int vigil_fchmodat(struct trace_event_raw_sys_enter *ctx) {
  return file_event(VIGIL_FILE_CHMOD, (const char *)ctx->args[1], 0, (__u32)ctx->args[2]);
}

/* The older path syscalls, still used by some programs (Python's os.rename, busybox). The loader
 * treats these as optional: an architecture without them just has fewer tracepoints. */
SEC("tracepoint/syscalls/sys_enter_rename")
int opt_vigil_rename(struct trace_event_raw_sys_enter *ctx) {
  return file_event(VIGIL_FILE_RENAME, (const char *)ctx->args[0], (const char *)ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_enter_unlink")
int opt_vigil_unlink(struct trace_event_raw_sys_enter *ctx) {
  return file_event(VIGIL_FILE_UNLINK, (const char *)ctx->args[0], 0, 0);
}

SEC("tracepoint/syscalls/sys_enter_chmod")
int opt_vigil_chmod(struct trace_event_raw_sys_enter *ctx) {
  return file_event(VIGIL_FILE_CHMOD, (const char *)ctx->args[0], 0, (__u32)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_open")
int opt_vigil_open(struct trace_event_raw_sys_enter *ctx) {
  __u32 flags = (__u32)ctx->args[1];
  if (!(flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC))) return 0;
  return file_event(VIGIL_FILE_OPEN_WRITE, (const char *)ctx->args[0], 0, flags);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int opt_vigil_creat(struct trace_event_raw_sys_enter *ctx) {
  return file_event(VIGIL_FILE_OPEN_WRITE, (const char *)ctx->args[0], 0, O_CREAT | O_WRONLY | O_TRUNC);
}

/* DNS over UDP: the queries a process sends and the answers it gets (vigil-dns.bpf.h). */
#include "vigil-dns.bpf.h"
