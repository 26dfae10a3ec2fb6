/* udp_echo PORT [STATEFILE [JUMP_MS]]: a UDP echo server for the migration tests, to run inside a
 * container. CRIU 4.1.1 can't dump an inet socket on kernels >= 6.16 (docs/checkpoint.md,
 * "Known gaps"), so the socket must be gone at the dump: SIGUSR1 closes it ("closed" in
 * STATEFILE), and it comes back by itself once the program notices that it was moved (its
 * network namespace changed: restored elsewhere) or that time jumped (one of its 1 ms sleeps
 * took more than JUMP_MS, default 150 ms: it was frozen, then thawed or restored), or after
 * 10 s. (The lab's emulated CPU oversleeps by more than 150 ms: a large JUMP_MS there.)
 * STATEFILE says "open" while it serves. Static, no sanitizers (tests/tests.mk). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t quiesce;
static const char *state_file;

static void on_usr1(int sig)
{
	(void)sig;
	quiesce = 1;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void set_state(const char *s)
{
	if (!state_file)
		return;
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", state_file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, s, strlen(s)) < 0 || write(fd, "\n", 1) < 0)
		perror("udp_echo: state");
	close(fd);
	rename(tmp, state_file);
}

/* The network namespace's identity ("net:[INODE]"): a restore gives a new one. */
static void netns_id(char *buf, size_t n)
{
	ssize_t l = readlink("/proc/self/ns/net", buf, n - 1);
	buf[l > 0 ? l : 0] = 0;
}

static int open_socket(int port)
{
	for (;;) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1;
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
		if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			set_state("open");
			return fd;
		}
		if (fd >= 0)
			close(fd);
		usleep(1000); /* e.g. the interface is not there yet */
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: udp_echo PORT [STATEFILE]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	state_file = argc > 2 ? argv[2] : NULL;
	double jump = argc > 3 ? atof(argv[3]) : 150;
	struct sigaction sa = {.sa_handler = on_usr1}; /* no SA_RESTART: poll returns EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	int fd = open_socket(port);
	char buf[2048];
	for (;;) {
		if (quiesce) {
			close(fd);
			set_state("closed");
			double start = now_ms(), last = start;
			struct timespec ms1 = {0, 1000000};
			char ns0[64], ns[64];
			netns_id(ns0, sizeof(ns0));
			for (;;) {
				nanosleep(&ms1, NULL);
				double t = now_ms();
				netns_id(ns, sizeof(ns));
				if (t - last > jump || t - start > 10000 || strcmp(ns, ns0))
					break;
				last = t;
			}
			quiesce = 0;
			fd = open_socket(port);
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n =
		    recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n > 0)
			sendto(fd, buf, n, 0, (struct sockaddr *)&from, fl);
	}
}
