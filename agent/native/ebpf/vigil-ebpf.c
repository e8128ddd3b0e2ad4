// SPDX-License-Identifier: Apache-2.0
/* vigil-ebpf: loads Vigil's tracepoint programs, then does nothing but copy ring-buffer records to
 * stdout, each as [u32 little-endian length][record]. All meaning is made in the TypeScript agent,
 * which started this helper and owns its stdin/stdout pipes.
 *
 * Privilege: it needs root (CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN on older kernels) only to load
 * and attach. Once attached it becomes `nobody` with no capabilities and no_new_privs, keeping just
 * the ring-buffer and counter file descriptors it already holds.
 *
 * Usage: vigil-ebpf [--prefix PATH]... [--stats-ms N] [--no-dns]
 *   --no-dns leaves out the DNS programs (vigil_dns_*: send/receive syscalls on port 53 sockets).
 * Exit codes: 0 stdin closed (the agent is gone), 2 usage, 3 load/attach failed (reason on stderr). */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "vigil.h"
#include "vigil.skel.h"

#define OUT_BUF (1 << 20)

static char out[OUT_BUF];
static size_t out_len;
static int out_broken;

static void flush_out(void) {
  size_t off = 0;
  while (off < out_len && !out_broken) {
    ssize_t n = write(STDOUT_FILENO, out + off, out_len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      out_broken = 1; /* EPIPE: the agent is gone */
      break;
    }
    off += (size_t)n;
  }
  out_len = 0;
}

static void put(const void *rec, uint32_t len) {
  if (out_len + 4 + len > OUT_BUF) flush_out();
  memcpy(out + out_len, &len, 4); /* x86_64 and arm64 are little-endian, as the decoder expects */
  memcpy(out + out_len + 4, rec, len);
  out_len += 4 + len;
}

static int on_record(void *ctx, void *data, size_t size) {
  (void)ctx;
  put(data, (uint32_t)size);
  return 0;
}

struct stats_rec {
  uint32_t kind;
  uint32_t programs; /* tracepoints attached */
  uint64_t dropped;  /* records the ring buffer had no room for, since start */
  uint64_t written;
};

static void sum_counters(int fd, uint64_t *dropped, uint64_t *written) {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0 || ncpu > 4096) return;
  uint64_t vals[4096];
  for (uint32_t key = 0; key < 2; key++) {
    uint64_t sum = 0;
    if (bpf_map_lookup_elem(fd, &key, vals) == 0)
      for (int i = 0; i < ncpu; i++) sum += vals[i];
    if (key == 0) *dropped = sum;
    else *written = sum;
  }
}

/* Everything after attach runs as nobody without capabilities. */
static int drop_privileges(void) {
  if (getuid() != 0) return 0; /* started unprivileged with delegated capabilities: keep as is */
  if (setgroups(0, NULL) != 0) return -1;
  if (setresgid(65534, 65534, 65534) != 0) return -1;
  if (setresuid(65534, 65534, 65534) != 0) return -1; /* clears every capability set */
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof(d));
  if (syscall(SYS_capset, &h, d) != 0) return -1;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return 0;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int silent(enum libbpf_print_level level, const char *fmt, va_list args) {
  if (level == LIBBPF_WARN) return vfprintf(stderr, fmt, args);
  return 0;
}

int main(int argc, char **argv) {
  const char *prefix[VIGIL_PREFIX_MAX];
  int nprefix = 0;
  int stats_ms = 1000;
  int dns = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc) {
      if (nprefix == VIGIL_PREFIX_MAX) {
        fprintf(stderr, "vigil-ebpf: at most %d prefixes\n", VIGIL_PREFIX_MAX);
        return 2;
      }
      prefix[nprefix++] = argv[++i];
    } else if (strcmp(argv[i], "--stats-ms") == 0 && i + 1 < argc) {
      stats_ms = atoi(argv[++i]);
      if (stats_ms < 50) stats_ms = 50;
    } else if (strcmp(argv[i], "--no-dns") == 0) {
      dns = 0;
    } else {
      fprintf(stderr, "usage: vigil-ebpf [--prefix PATH]... [--stats-ms N] [--no-dns]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  libbpf_set_print(silent);
  /* libbpf finds tracepoint ids in tracefs. systemd mounts it; a fresh mount namespace (a container,
   * `ip netns exec`, which remounts /sys) may not have it: mount it there, as an admin would. */
  if (access("/sys/kernel/tracing/events", F_OK) != 0 && access("/sys/kernel/debug/tracing/events", F_OK) != 0) {
    if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) != 0)
      fprintf(stderr, "vigil-ebpf: tracefs is not mounted and mounting it failed: %s\n", strerror(errno));
  }

  struct vigil *skel = vigil__open();
  if (!skel) {
    fprintf(stderr, "vigil-ebpf: open: %s\n", strerror(errno));
    return 3;
  }
  skel->rodata->prefix_count = (uint32_t)nprefix;
  if (!dns) {
    struct bpf_program *p;
    bpf_object__for_each_program(p, skel->obj) if (strncmp(bpf_program__name(p), "vigil_dns_", 10) == 0) bpf_program__set_autoload(p, false);
  }
  int err = vigil__load(skel);
  if (err) {
    fprintf(stderr, "vigil-ebpf: load: %s\n", strerror(-err));
    return 3;
  }
  for (int i = 0; i < nprefix; i++) {
    struct {
      uint32_t len;
      char s[VIGIL_PREFIX_LEN];
    } p;
    memset(&p, 0, sizeof(p));
    size_t n = strcspn(prefix[i], "*?["); /* a glob's literal head; the agent matches the rest */
    if (n > VIGIL_PREFIX_LEN) n = VIGIL_PREFIX_LEN;
    memcpy(p.s, prefix[i], n);
    p.len = (uint32_t)n;
    uint32_t key = (uint32_t)i;
    bpf_map_update_elem(bpf_map__fd(skel->maps.prefixes), &key, &p, BPF_ANY);
  }

  uint32_t attached = 0;
  struct bpf_program *prog;
  bpf_object__for_each_program(prog, skel->obj) {
    const char *name = bpf_program__name(prog);
    if (!bpf_program__autoload(prog)) continue;
    struct bpf_link *link = bpf_program__attach(prog);
    if (!link) {
      if (strncmp(name, "opt_", 4) == 0) continue;
      fprintf(stderr, "vigil-ebpf: attach %s: %s\n", name, strerror(errno));
      return 3;
    }
    attached++;
  }

  struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, NULL, NULL);
  if (!rb) {
    fprintf(stderr, "vigil-ebpf: ring buffer: %s\n", strerror(errno));
    return 3;
  }
  if (drop_privileges() != 0) {
    fprintf(stderr, "vigil-ebpf: dropping privileges: %s\n", strerror(errno));
    return 3;
  }
  /* Set after the uid change, which clears it. */
  prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);

  uint32_t ready[2] = {VIGIL_REC_READY, attached};
  put(ready, sizeof(ready));
  flush_out();

  int counters_fd = bpf_map__fd(skel->maps.counters);
  int rb_fd = ring_buffer__epoll_fd(rb);
  uint64_t next_stats = now_ms() + (uint64_t)stats_ms;
  while (!out_broken) {
    struct pollfd fds[2] = {{rb_fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    int n = poll(fds, 2, 100);
    if (n < 0 && errno != EINTR) break;
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      char junk[64];
      if (read(STDIN_FILENO, junk, sizeof(junk)) <= 0) break; /* the agent closed our stdin */
    }
    ring_buffer__consume(rb);
    if (now_ms() >= next_stats) {
      struct stats_rec s = {VIGIL_REC_STATS, attached, 0, 0};
      sum_counters(counters_fd, &s.dropped, &s.written);
      put(&s, sizeof(s));
      next_stats = now_ms() + (uint64_t)stats_ms;
    }
    flush_out();
  }
  ring_buffer__free(rb);
  vigil__destroy(skel);
  return 0;
}
