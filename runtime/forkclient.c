/* berth-runtime: the runtime CLI's front door, a client of the fork server.
 *
 * Hands the call to this host's fork server (runtime/forkserver.py, which describes the
 * protocol): connects to <run dir>/forkserver.sock, sends the call with its stdin, stdout
 * and stderr, forwards the signals a terminal sends (Ctrl-C, hang-up, a resized window)
 * to the worker's process group, and exits with the worker's exit code. With no server to
 * take the call it runs `python -m runtime` itself: the same CLI, 60 ms slower to start.
 *
 * In C because it is on the path of every call: Python's own start (7-9 ms) would be a
 * tenth of a container's start. `make` builds it into .venv/bin/, with the constants of
 * forkclient.h, which it writes from runtime/forkserver.py (python -m runtime.forkserver
 * --client-header).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "forkclient.h"

extern char **environ;

static volatile pid_t worker;
static volatile sig_atomic_t last_signal;

/* The --run-dir the global options name: they come before the command, each with a value. */
static const char *run_dir(int argc, char **argv) {
    for (int i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strncmp(argv[i], "--run-dir=", 10) == 0)
            return argv[i] + 10;
        if (strchr(argv[i], '='))
            continue;
        if (strcmp(argv[i], "--run-dir") == 0 && i + 1 < argc)
            return argv[i + 1];
        i++; /* the option's value */
    }
    return DEFAULT_RUN_DIR;
}

struct buffer {
    char *data;
    size_t len, cap;
};

static int append(struct buffer *b, const char *text, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        char *data = realloc(b->data, cap);
        if (!data)
            return -1;
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, text, n);
    b->len += n;
    return 0;
}

/* One NUL-separated field. */
static int field(struct buffer *b, const char *text) {
    if (b->len && append(b, "", 1))
        return -1;
    return append(b, text, strlen(text));
}

static int request(struct buffer *b, int argc, char **argv) {
    char cwd[4096], number[32];
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    mode_t mask = umask(0);
    umask(mask);
    if (field(b, PROTOCOL) || field(b, CODE_ROOT) || field(b, PYTHON) || field(b, cwd))
        return -1;
    snprintf(number, sizeof number, "%o", (unsigned)mask);
    if (field(b, number))
        return -1;
    snprintf(number, sizeof number, "%d", argc - 1);
    if (field(b, number))
        return -1;
    for (int i = 1; i < argc; i++)
        if (field(b, argv[i]))
            return -1;
    for (char **e = environ; *e; e++)
        if (field(b, *e))
            return -1;
    return 0;
}

/* The call and descriptors 0, 1 and 2; -1 if it could not all be sent. */
static int send_call(int sock, const struct buffer *b) {
    int fds[3] = {0, 1, 2};
    char control[CMSG_SPACE(sizeof fds)];
    memset(control, 0, sizeof control);
    struct iovec iov = {.iov_base = b->data, .iov_len = b->len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = sizeof control};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof fds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof fds);
    ssize_t sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (sent < 0)
        return -1; /* a closed stdin (EBADF) among others */
    for (size_t done = (size_t)sent; done < b->len; done += (size_t)sent) {
        sent = send(sock, b->data + done, b->len - done, MSG_NOSIGNAL);
        if (sent < 0)
            return -1;
    }
    return shutdown(sock, SHUT_WR);
}

/* The server's next reply line, without its newline; "" at the end. */
static const char *next_line(int sock) {
    static char data[4096];
    static size_t len;
    static char line[4096];
    for (;;) {
        char *end = memchr(data, '\n', len);
        if (end) {
            size_t n = (size_t)(end - data);
            memcpy(line, data, n);
            line[n] = 0;
            len -= n + 1;
            memmove(data, end + 1, len);
            return line;
        }
        if (len == sizeof data)
            return ""; /* a line longer than any the server sends */
        ssize_t got = read(sock, data + len, sizeof data - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return "";
        len += (size_t)got;
    }
}

static void forward(int signum) {
    last_signal = signum;
    if (worker > 0)
        kill(-worker, signum);
}

/* The call's exit code from the server; -1 when it cannot take the call (nothing was done). */
static int call_server(int argc, char **argv) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%s", run_dir(argc, argv), SOCKET_NAME);
    if (n < 0 || (size_t)n >= sizeof addr.sun_path)
        return -1;
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return -1;
    struct buffer call = {0};
    if (connect(sock, (struct sockaddr *)&addr, sizeof addr) || request(&call, argc, argv) ||
        send_call(sock, &call)) {
        close(sock);
        free(call.data);
        return -1;
    }
    free(call.data);
    const char *first = next_line(sock);
    if (first[0] != 'P') {
        close(sock);
        return -1; /* refused (R...), or closed unanswered */
    }
    worker = atoi(first + 1);
    struct sigaction action = {.sa_handler = forward, .sa_flags = SA_RESTART}, before;
    sigemptyset(&action.sa_mask);
    int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH};
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++) {
        /* A signal this process ignores (nohup, a script's background job) is not the worker's either. */
        if (sigaction(forwarded[i], NULL, &before) == 0 && before.sa_handler != SIG_IGN)
            sigaction(forwarded[i], &action, NULL);
    }
    const char *last = next_line(sock);
    if (last[0] == 'X')
        return atoi(last + 1);
    if (last_signal)
        return 128 + last_signal; /* it ended on the signal passed on, as this process would have */
    fprintf(stderr, "berth: the fork server's worker %d ended without an exit code\n", (int)worker);
    return 1;
}

/* No server: `python -m runtime` from this checkout, with the same arguments. */
static void run_here(int argc, char **argv) {
    char **args = calloc((size_t)argc + 3, sizeof *args);
    if (!args)
        exit(125);
    args[0] = PYTHON;
    args[1] = "-m";
    args[2] = "runtime";
    memcpy(args + 3, argv + 1, (size_t)(argc - 1) * sizeof *args);
    const char *path = getenv("PYTHONPATH");
    char *joined;
    if (asprintf(&joined, "%s%s%s", CODE_ROOT, path && *path ? ":" : "", path ? path : "") < 0)
        exit(125);
    setenv("PYTHONPATH", joined, 1);
    execv(PYTHON, args);
    fprintf(stderr, "berth: cannot run %s: %s\n", PYTHON, strerror(errno));
    exit(125);
}

/* Whether descriptors 0, 1 and 2 are all open: a closed one would be taken by the socket and
 * passed as that stream, so such a call runs here, where Python meets the closed stream. */
static int standard_streams_open(void) {
    for (int fd = 0; fd <= 2; fd++)
        if (fcntl(fd, F_GETFD) < 0)
            return 0;
    return 1;
}

int main(int argc, char **argv) {
    int code = standard_streams_open() ? call_server(argc, argv) : -1;
    if (code < 0)
        run_here(argc, argv);
    return code;
}
