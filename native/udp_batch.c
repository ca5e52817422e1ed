// Batched UDP I/O for the DNS query path: recvmmsg/sendmmsg on a socket that Node already bound.
// Owns: one poll handle per listener, the slot buffers shared with JS, and the syscalls. It answers nothing itself:
// per batch it makes one call into JS, which reads the queries from the in-slots and writes responses into the
// out-slots. Why: Node's dgram costs one recvmsg, one sendmsg and one JS callback per packet, about half of the
// CPU a query takes; batching pays those once per batch.
//
// Slot layout shared with JS (all little-endian host order, Int32/Uint32 views over `meta`):
//   meta[i*META + 0]  in length (bytes received), or -1 when the datagram did not fit its slot (MSG_TRUNC)
//   meta[i*META + 1]  out length, set by JS (0 = send nothing)
//   meta[i*META + 2]  address family of the sender: 4 or 6 (IPv4-mapped IPv6 is reported as 4)
//   meta[i*META + 3]  sender port
//   meta[i*META + 4..7]  sender address as big-endian 32-bit words (IPv4 in word 0)
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define META 8
#define MAX_BATCH 256
// Batches per wake-up before we give the event loop back (TCP, IPC, timers must not starve under a flood).
#define BATCHES_PER_WAKE 8

typedef struct listener {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_ref buffers[3];
  napi_async_context async;
  int fd;
  int batch;
  int in_slot;
  int out_slot;
  int closing;
  uint8_t *in;
  uint8_t *out;
  int32_t *meta;
  struct mmsghdr *rmsg;
  struct mmsghdr *smsg;
  struct iovec *riov;
  struct iovec *siov;
  struct sockaddr_storage *addr;
  double batches, packets, truncated, send_errors;
} listener;

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

#define CHECK(env, call) do { if ((call) != napi_ok) return throw_error((env), "udp_batch: " #call " failed"); } while (0)

static void record_sender(listener *l, int i) {
  int32_t *m = l->meta + i * META;
  uint32_t *w = (uint32_t *)(m + 4);
  const struct sockaddr_storage *sa = &l->addr[i];
  w[0] = w[1] = w[2] = w[3] = 0;
  if (sa->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    m[2] = 4;
    m[3] = ntohs(a->sin_port);
    w[0] = ntohl(a->sin_addr.s_addr);
  } else if (sa->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    const uint8_t *b = a->sin6_addr.s6_addr;
    m[3] = ntohs(a->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      m[2] = 4;
      w[0] = ((uint32_t)b[12] << 24) | ((uint32_t)b[13] << 16) | ((uint32_t)b[14] << 8) | b[15];
    } else {
      m[2] = 6;
      for (int k = 0; k < 4; k++) w[k] = ((uint32_t)b[4 * k] << 24) | ((uint32_t)b[4 * k + 1] << 16) | ((uint32_t)b[4 * k + 2] << 8) | b[4 * k + 3];
    }
  } else {
    m[2] = 0;
    m[3] = 0;
  }
}

// Returns 0 to go on, -1 when the JS callback threw (the exception is re-raised as uncaught) or the listener closed.
static int call_js(listener *l, int n) {
  napi_env env = l->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return -1;
  napi_value cb, recv, argv[1], result;
  int rc = 0;
  if (napi_get_reference_value(env, l->callback, &cb) != napi_ok || napi_get_global(env, &recv) != napi_ok ||
      napi_create_int32(env, n, &argv[0]) != napi_ok) {
    rc = -1;
  } else {
    // make_callback (not call_function): runs process.nextTick and microtasks queued by the callback, as any
    // callback from the event loop does.
    napi_status s = napi_make_callback(env, l->async, recv, cb, 1, argv, &result);
    if (s != napi_ok) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value err;
        napi_get_and_clear_last_exception(env, &err);
        napi_fatal_exception(env, err);
      }
      rc = -1;
    }
  }
  napi_close_handle_scope(env, scope);
  return rc;
}

static void send_replies(listener *l, int n) {
  int m = 0;
  for (int i = 0; i < n; i++) {
    int32_t len = l->meta[i * META + 1];
    if (len <= 0 || len > l->out_slot) continue;
    l->siov[m].iov_base = l->out + (size_t)i * l->out_slot;
    l->siov[m].iov_len = (size_t)len;
    memset(&l->smsg[m].msg_hdr, 0, sizeof(struct msghdr));
    l->smsg[m].msg_hdr.msg_iov = &l->siov[m];
    l->smsg[m].msg_hdr.msg_iovlen = 1;
    l->smsg[m].msg_hdr.msg_name = &l->addr[i];
    l->smsg[m].msg_hdr.msg_namelen = l->rmsg[i].msg_hdr.msg_namelen;
    m++;
  }
  int off = 0;
  while (off < m) {
    int r = sendmmsg(l->fd, l->smsg + off, (unsigned)(m - off), MSG_DONTWAIT);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      // A full send buffer or an unreachable peer costs this datagram, as it would with sendmsg: skip it, send the rest.
      l->send_errors++;
      off++;
      continue;
    }
    off += r;
  }
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  listener *l = (listener *)handle->data;
  if (status < 0 || l->closing) return;
  for (int round = 0; round < BATCHES_PER_WAKE; round++) {
    for (int i = 0; i < l->batch; i++) {
      l->riov[i].iov_base = l->in + (size_t)i * l->in_slot;
      l->riov[i].iov_len = (size_t)l->in_slot;
      memset(&l->rmsg[i].msg_hdr, 0, sizeof(struct msghdr));
      l->rmsg[i].msg_hdr.msg_iov = &l->riov[i];
      l->rmsg[i].msg_hdr.msg_iovlen = 1;
      l->rmsg[i].msg_hdr.msg_name = &l->addr[i];
      l->rmsg[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    }
    int n = recvmmsg(l->fd, l->rmsg, (unsigned)l->batch, MSG_DONTWAIT, NULL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EAGAIN: drained (another worker may have taken the packets); other errors: wait for more
    l->batches++;
    l->packets += n;
    for (int i = 0; i < n; i++) {
      int32_t *m = l->meta + i * META;
      if (l->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
        m[0] = -1;
        l->truncated++;
      } else {
        m[0] = (int32_t)l->rmsg[i].msg_len;
      }
      m[1] = 0;
      record_sender(l, i);
    }
    if (call_js(l, n) != 0) return;
    if (l->closing) return;  // JS closed this listener from inside the batch: its buffers are no longer ours
    send_replies(l, n);
    if (n < l->batch) return;
  }
}

static napi_value make_buffer(napi_env env, size_t len, void **data, napi_ref *ref) {
  napi_value ab;
  if (napi_create_arraybuffer(env, len, data, &ab) != napi_ok) return NULL;
  if (napi_create_reference(env, ab, 1, ref) != napi_ok) return NULL;
  return ab;
}

static void on_closed(uv_handle_t *handle) {
  listener *l = (listener *)handle->data;
  // Closed only now: libuv may still refer to the descriptor until the handle is closed.
  if (l->fd >= 0) close(l->fd);
  free(l->rmsg);
  free(l->smsg);
  free(l->riov);
  free(l->siov);
  free(l->addr);
  free(l);
}

// attach(fd, batch, inSlot, outSlot, onBatch) -> { handle, in, out, meta, batch, inSlot, outSlot, meta stride }
// The fd is duplicated: the caller's socket object keeps its own descriptor, and closing either leaves the other intact.
static napi_value Attach(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throw_error(env, "udp_batch.attach(fd, batch, inSlot, outSlot, onBatch)");
  int32_t fd, batch, in_slot, out_slot;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  CHECK(env, napi_get_value_int32(env, argv[1], &batch));
  CHECK(env, napi_get_value_int32(env, argv[2], &in_slot));
  CHECK(env, napi_get_value_int32(env, argv[3], &out_slot));
  napi_valuetype t;
  CHECK(env, napi_typeof(env, argv[4], &t));
  if (fd < 0 || batch < 1 || batch > MAX_BATCH || in_slot < 512 || in_slot > 65536 || out_slot < 512 || out_slot > 65536 || t != napi_function) {
    return throw_error(env, "udp_batch.attach: bad arguments");
  }
  int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dupfd < 0) return throw_error(env, strerror(errno));
  int sotype = 0;
  socklen_t optlen = sizeof sotype;
  if (getsockopt(dupfd, SOL_SOCKET, SO_TYPE, &sotype, &optlen) != 0 || sotype != SOCK_DGRAM) {
    close(dupfd);
    return throw_error(env, "udp_batch.attach: not a datagram socket");
  }
  listener *l = calloc(1, sizeof(listener));
  if (l == NULL) { close(dupfd); return throw_error(env, "udp_batch: out of memory"); }
  l->env = env;
  l->fd = dupfd;
  l->batch = batch;
  l->in_slot = in_slot;
  l->out_slot = out_slot;
  l->rmsg = calloc((size_t)batch, sizeof(struct mmsghdr));
  l->smsg = calloc((size_t)batch, sizeof(struct mmsghdr));
  l->riov = calloc((size_t)batch, sizeof(struct iovec));
  l->siov = calloc((size_t)batch, sizeof(struct iovec));
  l->addr = calloc((size_t)batch, sizeof(struct sockaddr_storage));
  if (!l->rmsg || !l->smsg || !l->riov || !l->siov || !l->addr) {
    l->poll.data = l;
    on_closed((uv_handle_t *)&l->poll);
    return throw_error(env, "udp_batch: out of memory");
  }
  napi_value result, v, resource_name;
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_create_reference(env, argv[4], 1, &l->callback));
  CHECK(env, napi_create_string_utf8(env, "waymark.udp.batch", NAPI_AUTO_LENGTH, &resource_name));
  CHECK(env, napi_async_init(env, NULL, resource_name, &l->async));
  v = make_buffer(env, (size_t)batch * in_slot, (void **)&l->in, &l->buffers[0]);
  if (v == NULL) return throw_error(env, "udp_batch: buffer");
  CHECK(env, napi_set_named_property(env, result, "in", v));
  v = make_buffer(env, (size_t)batch * out_slot, (void **)&l->out, &l->buffers[1]);
  if (v == NULL) return throw_error(env, "udp_batch: buffer");
  CHECK(env, napi_set_named_property(env, result, "out", v));
  v = make_buffer(env, (size_t)batch * META * sizeof(int32_t), (void **)&l->meta, &l->buffers[2]);
  if (v == NULL) return throw_error(env, "udp_batch: buffer");
  memset(l->meta, 0, (size_t)batch * META * sizeof(int32_t));
  CHECK(env, napi_set_named_property(env, result, "meta", v));
  CHECK(env, napi_create_int32(env, META, &v));
  CHECK(env, napi_set_named_property(env, result, "stride", v));
  CHECK(env, napi_create_external(env, l, NULL, NULL, &v));
  CHECK(env, napi_set_named_property(env, result, "handle", v));

  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  l->poll.data = l;
  if (uv_poll_init(loop, &l->poll, dupfd) != 0 || uv_poll_start(&l->poll, UV_READABLE, on_readable) != 0) {
    close(dupfd);
    return throw_error(env, "udp_batch: cannot poll the socket");
  }
  return result;
}

static listener *get_listener(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return (listener *)p;
}

// detach(handle): stop reading, close our descriptor. Safe to call twice.
static napi_value Detach(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], undefined;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(env, napi_get_undefined(env, &undefined));
  listener *l = argc >= 1 ? get_listener(env, argv[0]) : NULL;
  if (l == NULL) return throw_error(env, "udp_batch.detach(handle)");
  if (l->closing) return undefined;
  l->closing = 1;
  uv_poll_stop(&l->poll);
  napi_delete_reference(env, l->callback);
  for (int i = 0; i < 3; i++) napi_delete_reference(env, l->buffers[i]);
  napi_async_destroy(env, l->async);
  uv_close((uv_handle_t *)&l->poll, on_closed);
  return undefined;
}

// stats(handle) -> { batches, packets, truncated, sendErrors }
static napi_value Stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], o, v;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  listener *l = argc >= 1 ? get_listener(env, argv[0]) : NULL;
  if (l == NULL) return throw_error(env, "udp_batch.stats(handle)");
  CHECK(env, napi_create_object(env, &o));
  CHECK(env, napi_create_double(env, l->batches, &v));
  CHECK(env, napi_set_named_property(env, o, "batches", v));
  CHECK(env, napi_create_double(env, l->packets, &v));
  CHECK(env, napi_set_named_property(env, o, "packets", v));
  CHECK(env, napi_create_double(env, l->truncated, &v));
  CHECK(env, napi_set_named_property(env, o, "truncated", v));
  CHECK(env, napi_create_double(env, l->send_errors, &v));
  CHECK(env, napi_set_named_property(env, o, "sendErrors", v));
  return o;
}

NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "attach", NAPI_AUTO_LENGTH, Attach, NULL, &f);
  napi_set_named_property(env, exports, "attach", f);
  napi_create_function(env, "detach", NAPI_AUTO_LENGTH, Detach, NULL, &f);
  napi_set_named_property(env, exports, "detach", f);
  napi_create_function(env, "stats", NAPI_AUTO_LENGTH, Stats, NULL, &f);
  napi_set_named_property(env, exports, "stats", f);
  return exports;
}
