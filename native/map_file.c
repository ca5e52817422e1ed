// Read-only file mappings for the worker processes of one node: map(path) returns an ArrayBuffer over the file's
// pages in the kernel's page cache (mmap PROT_READ, MAP_SHARED), so every process that maps the same compiled
// snapshot reads one copy of it instead of holding its own. Owns: open, fstat, mmap, and munmap when the
// ArrayBuffer is collected. Never writes: the pages are read-only, and a store through a view over them is a
// SIGSEGV that kills the process (callers only read; a new snapshot is always a new file, never an edit in place).
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static napi_value throw_error(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

#define CHECK(env, call) do { if ((call) != napi_ok) return throw_error((env), NULL, "map_file: " #call " failed"); } while (0)

// The errno's symbolic name (ENOENT, EACCES...) as the Error's `code`, like Node's own fs errors, so callers can
// tell "no such file" from the rest whether the addon or the fs fallback read the file. NULL where libc lacks it.
static const char *errno_code(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  return strerrorname_np(err);
#else
  (void)err;
  return NULL;
#endif
}

// Throws `map_file: cannot <what> '<path>': <reason>` with `code` set (NULL: none).
static napi_value throw_path(napi_env env, const char *code, const char *what, const char *path, const char *reason) {
  char msg[4096 + 128];
  snprintf(msg, sizeof msg, "map_file: cannot %s '%s': %s", what, path, reason);
  return throw_error(env, code, msg);
}

static napi_value throw_errno(napi_env env, const char *what, const char *path, int err) {
  return throw_path(env, errno_code(err), what, path, strerror(err));
}

// The first argument as a malloc'd NUL-terminated path, or NULL with an exception pending. A string holding a NUL
// byte is refused: open() would read only up to it and silently map another file.
static char *path_argument(napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value argv[1];
  napi_valuetype type = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_string || napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "map_file.map(path): path must be a string");
    return NULL;
  }
  char *path = malloc(len + 1);
  if (path == NULL) {
    napi_throw_error(env, NULL, "map_file: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[0], path, len + 1, &len);
  if (strlen(path) != len) {
    free(path);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "map_file.map(path): path must not contain NUL bytes");
    return NULL;
  }
  return path;
}

// Called by the engine when the ArrayBuffer is collected (or at exit): the mapping goes with it. The length
// travels in the hint, as munmap needs it and the data pointer alone does not say.
static void unmap(napi_env env, void *data, void *hint) {
  munmap(data, (size_t)(uintptr_t)hint);
}

// The open file's pages as an external ArrayBuffer; an empty file gives an empty ArrayBuffer (mmap refuses length 0).
static napi_value map_fd(napi_env env, int fd, const char *path) {
  struct stat st;
  napi_value ab;
  if (fstat(fd, &st) != 0) return throw_errno(env, "fstat", path, errno);
  // Only a regular file has pages to map; a directory is named as one (as fs.readFileSync does) rather than the
  // ENODEV mmap would give, and a FIFO or device, whose st_size says nothing, is refused rather than read as empty.
  if (S_ISDIR(st.st_mode)) return throw_errno(env, "map", path, EISDIR);
  if (!S_ISREG(st.st_mode)) return throw_path(env, "EINVAL", "map", path, "not a regular file");
  if (st.st_size == 0) {
    CHECK(env, napi_create_arraybuffer(env, 0, NULL, &ab));
    return ab;
  }
  if ((uint64_t)st.st_size > SIZE_MAX) return throw_errno(env, "map", path, EFBIG);
  size_t size = (size_t)st.st_size;
  void *addr = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return throw_errno(env, "mmap", path, errno);
  napi_status s = napi_create_external_arraybuffer(env, addr, size, unmap, (void *)(uintptr_t)size, &ab);
  if (s != napi_ok) {
    munmap(addr, size);
    // A runtime built with V8's memory sandbox (Electron, not Node) refuses memory it did not allocate.
    return throw_error(env, NULL, s == napi_no_external_buffers_allowed
                                      ? "map_file: this runtime does not allow external ArrayBuffers"
                                      : "map_file: napi_create_external_arraybuffer failed");
  }
  return ab;
}

// map(path: string) -> ArrayBuffer, read-only. The descriptor is closed before returning: the mapping keeps the
// file's pages reachable by itself, even after the path is renamed over or removed.
static napi_value Map(napi_env env, napi_callback_info info) {
  char *path = path_argument(env, info);
  if (path == NULL) return NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  napi_value result = fd < 0 ? throw_errno(env, "open", path, errno) : map_fd(env, fd, path);
  if (fd >= 0) close(fd);
  free(path);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "map", NAPI_AUTO_LENGTH, Map, NULL, &f);
  napi_set_named_property(env, exports, "map", f);
  return exports;
}
