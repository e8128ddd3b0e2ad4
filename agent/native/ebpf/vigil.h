/* Records the eBPF program hands to the helper, and the helper hands (length-prefixed) to the
 * agent. Shared by the BPF side and the loader; the TypeScript decoder in
 * agent/src/sensors/ebpf/records.ts reads the same layout (little-endian, no padding surprises:
 * every field is naturally aligned and the structs are packed by construction). */
#ifndef VIGIL_H
#define VIGIL_H

#define VIGIL_REC_EXEC 1
#define VIGIL_REC_EXIT 2
#define VIGIL_REC_CONNECT 3
#define VIGIL_REC_FILE 4
#define VIGIL_REC_STATS 5 /* written by the loader, not the kernel */
#define VIGIL_REC_READY 6 /* written by the loader once every program is attached */
#define VIGIL_REC_SOCK 7  /* a TCP socket closed, began closing or started listening */
#define VIGIL_REC_FORK 8  /* a new process (not a thread): its parent, before it execs, if ever */
#define VIGIL_REC_DNS 9   /* a UDP datagram to or from port 53: a DNS query or its response */

#define VIGIL_FILE_OPEN_WRITE 1
#define VIGIL_FILE_UNLINK 2
#define VIGIL_FILE_RENAME 3
#define VIGIL_FILE_CHMOD 4

#define VIGIL_PATH_MAX 256
#define VIGIL_ARGS_MAX 4096
#define VIGIL_PREFIX_MAX 16
#define VIGIL_PREFIX_LEN 64
#define VIGIL_CWD_DEPTH 16 /* directory names kept of the working directory, innermost first */
#define VIGIL_CWD_NAME 48

/* The fields every kernel record starts with: who did it, and when (ns since boot). */
struct vigil_task {
  __u32 kind;
  __u32 pid;     /* tgid: the process id user space knows */
  __u32 tid;
  __u32 ppid;    /* real parent's tgid */
  __u32 uid;
  __u32 euid;
  __u64 ts_ns;   /* bpf_ktime_get_boot_ns() */
  __u64 start_ns; /* the process's start time, ns since boot: with pid, a unique id */
  __u64 cgroup_id;
  char comm[16];
};

struct vigil_exec {
  struct vigil_task t;
  __u32 filename_len; /* bytes used in filename, without the NUL */
  __u32 args_len;     /* bytes of argv, NUL-separated, as the kernel holds them */
  __u32 args_truncated;
  __u32 cwd_depth;     /* names in cwd; 0 with cwd_truncated 0 is "/" */
  __u32 cwd_truncated; /* deeper than VIGIL_CWD_DEPTH, or a name cut: the agent reads /proc instead */
  __u32 pad;
  char cwd[VIGIL_CWD_DEPTH][VIGIL_CWD_NAME]; /* the working directory's names, innermost first */
  char filename[VIGIL_PATH_MAX];
  char args[VIGIL_ARGS_MAX];
};

struct vigil_exit {
  struct vigil_task t;
  __s32 exit_code; /* the wait status: (code << 8) | signal, as the kernel keeps it */
  __u32 pad;
};

#define VIGIL_CONN_OUTBOUND 1 /* connect(): the address is the remote end asked for */
#define VIGIL_CONN_INBOUND 2  /* accept(): the address is the peer's */

struct vigil_connect {
  struct vigil_task t;
  __u16 family;    /* AF_INET 2, AF_INET6 10 */
  __u16 port;      /* remote port, host order */
  __u16 socktype;  /* SOCK_STREAM 1, SOCK_DGRAM 2; 0 when the socket could not be read */
  __u16 direction;
  __u16 local_port; /* inbound: the listening port; 0 for outbound (not bound yet) */
  __u16 pad[3];
  __u8 addr[16];
};

/* From the kernel's fork tracepoint, with the new process as pid. A shell's subshell or a daemon's
 * worker never execs, so no exec record names it: this one lets its children name their parent. */
struct vigil_fork {
  __u32 kind;
  __u32 pid;  /* the child's tgid */
  __u32 ppid; /* the parent's tgid */
  __u32 pad;
  __u64 ts_ns;
  __u64 start_ns; /* the child's start, ns since boot */
};

/* No task: the state change may happen in softirq context, on behalf of no process. It only tells
 * the agent that the socket tables changed, so it reads /proc/net now rather than on a slow timer. */
struct vigil_sock {
  __u32 kind;
  __u32 newstate; /* TCP_* as the kernel numbers them */
  __u64 ts_ns;    /* bpf_ktime_get_boot_ns() */
};

#define VIGIL_DNS_MAX 512 /* the classic UDP DNS message limit; longer (EDNS) ones are cut here */
#define VIGIL_DNS_SENT 1     /* sent to a DNS server: a query */
#define VIGIL_DNS_RECEIVED 2 /* received from one: a response */

/* One DNS datagram of a process, as bytes: the agent parses it (it is hostile input). Written with
 * only its first `len` bytes of data. */
struct vigil_dns {
  struct vigil_task t;
  __u16 family;    /* the server's: AF_INET 2, AF_INET6 10 */
  __u16 port;      /* the server's port, host order (53) */
  __u16 direction; /* VIGIL_DNS_SENT or VIGIL_DNS_RECEIVED */
  __u16 len;       /* bytes of data copied, at most VIGIL_DNS_MAX */
  __u32 size;      /* the datagram's size as the syscall moved it */
  __u32 pad;
  __u8 addr[16];   /* the server's address */
  __u8 data[VIGIL_DNS_MAX];
};

struct vigil_file {
  struct vigil_task t;
  __u32 op;
  __u32 flags; /* open flags, or the chmod mode */
  char path[VIGIL_PATH_MAX];
  char path2[VIGIL_PATH_MAX]; /* rename target */
};

#endif
