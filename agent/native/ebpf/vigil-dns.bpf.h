// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/* DNS visibility: every UDP datagram a process sends to, or receives from, port 53, as bytes (at
 * most VIGIL_DNS_MAX). Part of vigil.bpf.c (included at its end, after the maps and helpers it
 * uses); a file of its own so the sensor's main programs stay readable.
 *
 * The port comes from the syscall's address when it has one (sendto, sendmsg, recvfrom of an
 * unconnected socket), else from the socket itself: glibc connects its resolver socket and then
 * uses send/sendmmsg/recvfrom without an address. A receive is caught at its syscall's entry (the
 * buffer) and copied at its exit (the bytes the kernel wrote). Not seen: DNS over TCP (port 53
 * streams are length-prefixed and rare), read()/write()/recvmmsg on a resolver socket, DNS over
 * TLS or HTTPS (encrypted by design). The loader leaves these programs out with --no-dns. */

#define SOCK_DGRAM 2
#define DNS_PORT 53
#define DNS_MMSG_MAX 4 /* messages of one sendmmsg looked at: glibc sends A and AAAA together */

/* A receive in flight on a DNS socket, by thread (pid_tgid): what the exit needs to copy the answer. */
struct dns_recv {
  __u64 buf;  /* recvfrom's buffer, or recvmsg's user_msghdr */
  __u64 addr; /* recvfrom's src_addr for an unconnected socket (the kernel fills it), else 0 */
  __u32 fd;
  __u32 is_msg;
};

/* LRU: a thread killed inside the syscall never reaches its exit, and its entry must not fill the
 * map for good. 4096 threads blocked in a DNS receive at once; beyond, the oldest entry goes. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, struct dns_recv);
} dns_recvs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct vigil_dns);
} dns_scratch SEC(".maps");

/* The inet datagram socket behind a descriptor of the current process, or NULL. */
static __always_inline struct sock *udp_sock(__u64 fd) {
  struct socket *sock = fd_socket(fd);
  if (!sock || BPF_CORE_READ(sock, type) != SOCK_DGRAM) return 0;
  struct sock *sk = BPF_CORE_READ(sock, sk);
  if (!sk) return 0;
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  return family == AF_INET || family == AF_INET6 ? sk : 0;
}

/* The server from a connected socket: its peer. */
static __always_inline void dns_peer(struct vigil_dns *d, struct sock *sk) {
  d->family = BPF_CORE_READ(sk, __sk_common.skc_family);
  d->port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (d->family == AF_INET) {
    __u32 a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(d->addr, &a, 4);
  } else {
    BPF_CORE_READ_INTO(&d->addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
  }
}

/* The server from a user sockaddr; 1 when it is an inet address on port 53. */
static __always_inline int dns_sockaddr(struct vigil_dns *d, const void *uaddr) {
  __u16 family = 0, port_be = 0;
  if (bpf_probe_read_user(&family, sizeof(family), uaddr) != 0) return 0;
  if (family != AF_INET && family != AF_INET6) return 0;
  if (bpf_probe_read_user(&port_be, sizeof(port_be), uaddr + 2) != 0) return 0;
  if (__builtin_bswap16(port_be) != DNS_PORT) return 0;
  d->family = family;
  d->port = DNS_PORT;
  if (family == AF_INET) bpf_probe_read_user(d->addr, 4, uaddr + 4);
  else bpf_probe_read_user(d->addr, 16, uaddr + 8);
  return 1;
}

/* Fills d's server from the address given, else from the connected socket; 1 when it is port 53. */
static __always_inline int dns_server(struct vigil_dns *d, struct sock *sk, const void *uaddr) {
  __builtin_memset(d->addr, 0, sizeof(d->addr));
  if (uaddr) return dns_sockaddr(d, uaddr);
  if (BPF_CORE_READ(sk, __sk_common.skc_dport) != __builtin_bswap16(DNS_PORT)) return 0;
  dns_peer(d, sk);
  return 1;
}

static __always_inline void dns_emit(struct vigil_dns *d, const void *ubuf, __u64 size, __u16 direction) {
  __u32 n = size > VIGIL_DNS_MAX ? VIGIL_DNS_MAX : (__u32)size;
  if (n == 0) return;
  if (bpf_probe_read_user(d->data, n, ubuf) != 0) return;
  fill_task(&d->t, VIGIL_REC_DNS);
  d->direction = direction;
  d->len = n;
  d->size = size > 0xffffffff ? 0xffffffff : (__u32)size;
  emit(d, __builtin_offsetof(struct vigil_dns, data) + n);
}

static __always_inline struct vigil_dns *dns_record(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&dns_scratch, &zero);
}

/* A message of sendmsg/sendmmsg: its address (if any) and first buffer. Resolvers send a query in
 * one piece. */
static __always_inline void dns_send_msg(struct sock *sk, const struct user_msghdr *umsg) {
  struct user_msghdr m;
  if (bpf_probe_read_user(&m, sizeof(m), umsg) != 0) return;
  struct vigil_dns *d = dns_record();
  /* The server first: most datagrams are not DNS, and their buffer is never read. */
  if (!d || !dns_server(d, sk, m.msg_namelen > 0 ? m.msg_name : 0)) return;
  struct iovec iov;
  if (m.msg_iovlen < 1 || bpf_probe_read_user(&iov, sizeof(iov), m.msg_iov) != 0) return;
  dns_emit(d, iov.iov_base, iov.iov_len, VIGIL_DNS_SENT);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int vigil_dns_sendto(struct trace_event_raw_sys_enter *ctx) {
  struct sock *sk = udp_sock(ctx->args[0]);
  if (!sk) return 0;
  struct vigil_dns *d = dns_record();
  if (!d || !dns_server(d, sk, (const void *)ctx->args[4])) return 0;
  dns_emit(d, (const void *)ctx->args[1], ctx->args[2], VIGIL_DNS_SENT);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int vigil_dns_sendmsg(struct trace_event_raw_sys_enter *ctx) {
  struct sock *sk = udp_sock(ctx->args[0]);
  if (sk) dns_send_msg(sk, (const struct user_msghdr *)ctx->args[1]);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int vigil_dns_sendmmsg(struct trace_event_raw_sys_enter *ctx) {
  struct sock *sk = udp_sock(ctx->args[0]);
  if (!sk) return 0;
  const struct mmsghdr *vec = (const struct mmsghdr *)ctx->args[1];
  __u32 vlen = (__u32)ctx->args[2];
  for (__u32 i = 0; i < DNS_MMSG_MAX; i++) {
    if (i >= vlen) break;
    dns_send_msg(sk, &vec[i].msg_hdr);
  }
  return 0;
}

/* A receive on a socket that may be talking to a DNS server: connected to port 53, or unconnected
 * with an address to learn the sender from (recvmsg's is read only then). Remembered for the exit. */
static __always_inline void dns_recv_enter(__u64 fd, __u64 buf, __u64 addr, __u32 is_msg) {
  struct sock *sk = udp_sock(fd);
  if (!sk) return;
  __u16 dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
  if (dport != __builtin_bswap16(DNS_PORT)) {
    if (dport != 0) return;
    if (is_msg) {
      const struct user_msghdr *m = (const struct user_msghdr *)buf;
      addr = 0;
      bpf_probe_read_user(&addr, sizeof(addr), &m->msg_name);
    }
    if (!addr) return;
  } else {
    addr = 0; /* connected: the socket names the server */
  }
  struct dns_recv r = {.buf = buf, .addr = addr, .fd = (__u32)fd, .is_msg = is_msg};
  __u64 id = bpf_get_current_pid_tgid();
  bpf_map_update_elem(&dns_recvs, &id, &r, BPF_ANY);
}

/* is_msg: which exit this is. An entry of the other kind is a leftover (its thread died inside the
 * syscall, and the id came back): dropped, never read as this call's buffer. */
static __always_inline void dns_recv_exit(long ret, __u32 is_msg) {
  __u64 id = bpf_get_current_pid_tgid();
  struct dns_recv *p = bpf_map_lookup_elem(&dns_recvs, &id);
  if (!p) return;
  struct dns_recv r = *p;
  bpf_map_delete_elem(&dns_recvs, &id);
  if (ret <= 0 || r.is_msg != is_msg) return;
  struct sock *sk = udp_sock(r.fd);
  if (!sk) return;
  __u64 buf = r.buf, size = (__u64)ret;
  if (r.is_msg) {
    struct user_msghdr m;
    struct iovec iov;
    if (bpf_probe_read_user(&m, sizeof(m), (void *)r.buf) != 0 || m.msg_iovlen < 1) return;
    if (bpf_probe_read_user(&iov, sizeof(iov), m.msg_iov) != 0) return;
    buf = (__u64)iov.iov_base;
    if (size > iov.iov_len) size = iov.iov_len;
  }
  struct vigil_dns *d = dns_record();
  if (!d || !dns_server(d, sk, (const void *)r.addr)) return;
  dns_emit(d, (const void *)buf, size, VIGIL_DNS_RECEIVED);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int vigil_dns_recvfrom_in(struct trace_event_raw_sys_enter *ctx) {
  dns_recv_enter(ctx->args[0], ctx->args[1], ctx->args[4], 0);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int vigil_dns_recvfrom_out(struct trace_event_raw_sys_exit *ctx) {
  dns_recv_exit(ctx->ret, 0);
  return 0;
}

/* An unconnected socket's sender is in msg_name, once the kernel has written it. */
SEC("tracepoint/syscalls/sys_enter_recvmsg")
int vigil_dns_recvmsg_in(struct trace_event_raw_sys_enter *ctx) {
  dns_recv_enter(ctx->args[0], ctx->args[1], 0, 1);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int vigil_dns_recvmsg_out(struct trace_event_raw_sys_exit *ctx) {
  dns_recv_exit(ctx->ret, 1);
  return 0;
}
